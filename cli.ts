#!/usr/bin/env -S deno run -A
/**
 * The command line: `train`, `eval`, `predict` and `summary`, one file each in `cli/`. It only parses flags
 * and calls the library; `--help` after a command describes it, `--json` prints machine-readable results on
 * stdout.
 *
 * Exit codes: 0 success, 1 error (bad data, weights or images; a diverged run), 2 usage error (unknown
 * flag, bad value), 130 a run stopped by Ctrl-C (saved, resumable).
 *
 * ```sh
 * deno run -A cli.ts train                      # ResNet-20 on CIFAR-10, He et al.'s recipe
 * deno run -A cli.ts eval --checkpoint runs/resnet20-cifar10
 * deno run -A cli.ts predict --checkpoint runs/resnet20-cifar10 cat.png
 * deno run -A cli.ts summary --model resnet50
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { boolean, type Command, type Flags, UsageError } from "./cli/_flags.ts";
import { evalCommand } from "./cli/eval.ts";
import { predict } from "./cli/predict.ts";
import { summary } from "./cli/summary.ts";
import { train } from "./cli/train.ts";

const MAIN_HELP = `Train and evaluate torchvision-compatible ResNets on WebGPU.

Usage: deno run -A cli.ts <command> [flags]

Commands:
  train      train a ResNet on CIFAR-10/100 (He et al.'s recipe by default), or fine-tune one
  eval       score a checkpoint on a data set
  predict    classify PNG/JPEG images with a checkpoint
  summary    print a model's layer table

Run "deno run -A cli.ts <command> --help" for a command's flags.`;

const COMMANDS: Record<string, Command> = { train, eval: evalCommand, predict, summary };

/**
 * Runs the command line `args` (without the program name) and returns the exit code: 0 success, 1 error,
 * 2 usage error, 130 interrupted.
 *
 * @example
 * ```ts
 * import { main } from "@denogpu/resnet/cli";
 * const code = await main(["summary", "--model", "resnet18"]); // prints the layer table
 * console.log(code); // 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(MAIN_HELP);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(MAIN_HELP);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`error: unknown command "${name}"\n\n${MAIN_HELP}`);
    return 2;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...command.options, help: boolean, h: boolean },
        strict: true,
        allowPositionals: command.positionals ?? false,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (parsed.values.help || parsed.values.h) {
      console.log(command.help);
      return 0;
    }
    return await command.run(parsed.values as Flags, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\nRun "deno run -A cli.ts ${name} --help" for its flags.`);
      return 2;
    }
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
