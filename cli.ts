#!/usr/bin/env -S deno run -A
/**
 * The command line: `train`, `eval`, `predict` and `summary`. It only parses flags and calls the library;
 * `--help` after a command describes it, `--json` prints machine-readable results on stdout.
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
import { join } from "node:path";
import { defaultCacheDir, loadCifar } from "./src/data/cifar.ts";
import type { CifarName } from "./src/data/cifar_layout.ts";
import { Gpu } from "./src/gpu/device.ts";
import { tuneConvolutionsCached } from "./src/train/tuning.ts";
import { summary } from "./src/nn/summary.ts";
import { checkpointPaths, loadTrainingState, openCheckpoint } from "./src/train/checkpoint.ts";
import { evaluate, formatEvaluation } from "./src/train/evaluate.ts";
import { fit, limitDataset, stopOnInterrupt } from "./src/train/fit.ts";
import { formatPredictions, predictFiles } from "./src/train/predict.ts";
import { applyFreeze } from "./src/train/pretrained.ts";
import {
  buildModel,
  ConfigError,
  DEFAULT_CONFIG,
  isCifarModel,
  MODEL_NAMES,
  type ModelName,
  resolveConfig,
  type RunConfig,
  SCHEDULE_NAMES,
  type Stem,
} from "./src/train/run_config.ts";
import { exists } from "./src/io/_fs.ts";

/** A wrong command line: reported with the command's usage, exit code 2. */
class UsageError extends Error {}

type Flags = Record<string, string | boolean | undefined>;

interface Command {
  help: string;
  options: Record<string, { type: "string" | "boolean" }>;
  positionals?: boolean;
  run(flags: Flags, positionals: string[]): Promise<number>;
}

const d = DEFAULT_CONFIG;

const TRAIN_HELP = `Train a ResNet on CIFAR-10 or CIFAR-100.

Usage: deno run -A cli.ts train [flags]

The default recipe is He et al., "Deep Residual Learning for Image Recognition" (2016), section 4.2:
ResNet-20, SGD (momentum 0.9, weight decay 1e-4), batch 128, learning rate 0.1 divided by 10 at 50%
and 75% of 164 epochs, random crops of the 4-pixel padded image and horizontal flips. Table 6 of the
paper reports 91.25% test accuracy for it on CIFAR-10 (ResNet-32/44/56/110: 92.49/92.83/93.03/93.39%).

Data:
  --data PATH            the CIFAR archive or folder (default: the cache folder, downloading if absent)
  --dataset NAME         cifar10 | cifar100 (default ${d.dataset})
  --no-download          fail instead of downloading when the data is not there
  --limit N              use only the first N images of each split (a quick run)
Model:
  --model NAME           resnet18, resnet34, resnet50, resnet101, resnet152 (torchvision's) or resnet20,
                         resnet32, resnet44, resnet56, resnet110 (He et al.'s CIFAR ResNets); default ${d.model}
  --stem STEM            imagenet | cifar: resnet18..152's stem (default cifar, imagenet with --pretrained)
Recipe:
  --epochs N             (default ${d.epochs})
  --batch-size N         (default ${d.batchSize})
  --lr X                 peak learning rate (default ${d.lr})
  --momentum X           (default ${d.momentum})
  --weight-decay X       (default ${d.weightDecay})
  --nesterov             Nesterov momentum
  --schedule NAME        multistep (x0.1 at 50% and 75% of training; the default), cosine, onecycle or
                         constant
  --warmup N             epochs of linear warm-up from lr/10 (default ${d.warmup})
  --label-smoothing X    (default ${d.labelSmoothing})
  --seed N               initial weights, data order and augmentation (default ${d.seed})
Transfer learning:
  --pretrained FILE      start from a .pth or .safetensors state dict, or "imagenet" for torchvision's
                         official weights of the model (downloaded once, cached, hash checked); the fc head
                         is replaced for the data set's classes (the images stay 32x32)
  --freeze WHAT          none | backbone (train only fc) | a module such as layer3 (frozen with all before it)
Output:
  --out DIR              the run folder (default runs/<model>-<dataset>, numbered when taken)
  --resume DIR           continue the run in DIR exactly where it stopped, with its saved settings
  --no-tune              skip the one-time convolution autotune (results cached per adapter)
  --json                 print the result as JSON on stdout
  -h, --help             this help

Each epoch writes DIR/last.safetensors (torchvision keys) with its sidecar last.json and
last.optimizer.safetensors, best.* by test accuracy, metrics.jsonl and report.html. Ctrl-C finishes the
step, saves and tells how to resume; a second Ctrl-C quits at once.`;

const EVAL_HELP =
  `Evaluate a checkpoint: loss, top-1 and top-5 accuracy, per-class accuracy, confusion matrix.

Usage: deno run -A cli.ts eval --checkpoint PATH [flags]

  --checkpoint PATH      a run folder (its best, else last, weights) or a .safetensors/.pth file
  --data PATH            the CIFAR archive or folder (default: the cache folder, downloading if absent)
  --dataset NAME         cifar10 | cifar100 (default: the run's, else by the model's class count)
  --no-download          fail instead of downloading when the data is not there
  --split NAME           test | train (default test)
  --limit N              only the first N images
  --batch-size N         images per forward pass (default 256)
  --model NAME           the model, for files that do not say (torchvision .pth files)
  --stem STEM            imagenet | cifar, for files that do not say (default imagenet)
  --json                 print the result as JSON on stdout
  -h, --help             this help`;

const PREDICT_HELP = `Predict the classes of PNG or JPEG images.

Usage: deno run -A cli.ts predict --checkpoint PATH [flags] IMAGE...

Each image's shorter side is resized to the model's input (antialiased bilinear), centre-cropped and
normalised as in training.

  --checkpoint PATH      a run folder (its best, else last, weights) or a .safetensors/.pth file
  --top-k N              classes to show per image (default 5)
  --model NAME           the model, for files that do not say (torchvision .pth files)
  --stem STEM            imagenet | cifar, for files that do not say (default imagenet)
  --json                 print the result as JSON on stdout
  -h, --help             this help`;

const SUMMARY_HELP = `Print a model's layers, output shapes and parameter counts.

Usage: deno run -A cli.ts summary [flags]

  --model NAME           resnet18, resnet34, resnet50, resnet101, resnet152, resnet20, resnet32, resnet44,
                         resnet56 or resnet110 (default ${d.model})
  --stem STEM            imagenet | cifar (default imagenet for resnet18..152)
  --classes N            outputs of fc (default 10 for the CIFAR ResNets, 1000 otherwise)
  --input-size N         input height and width (default 32 with a CIFAR model or stem, else 224)
  --batch-size N         the batch dimension shown (default 1)
  --freeze WHAT          none | backbone | a module: shows what stays trainable
  --json                 print the table as JSON on stdout
  -h, --help             this help`;

const MAIN_HELP = `Train and evaluate torchvision-compatible ResNets on WebGPU.

Usage: deno run -A cli.ts <command> [flags]

Commands:
  train      train a ResNet on CIFAR-10/100 (He et al.'s recipe by default), or fine-tune one
  eval       score a checkpoint on a data set
  predict    classify PNG/JPEG images with a checkpoint
  summary    print a model's layer table

Run "deno run -A cli.ts <command> --help" for a command's flags.`;

const string = { type: "string" } as const;
const boolean = { type: "boolean" } as const;
const help = { help: boolean, h: boolean };

/** Flags of `train` that set the recipe, which `--resume` takes from the checkpoint instead. */
const RECIPE_FLAGS = [
  "dataset",
  "model",
  "stem",
  "epochs",
  "batch-size",
  "lr",
  "momentum",
  "weight-decay",
  "nesterov",
  "schedule",
  "warmup",
  "label-smoothing",
  "seed",
  "pretrained",
  "freeze",
  "limit",
  "out",
];

function integer(flags: Flags, name: string, min = 1): number | undefined {
  const text = flags[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer of at least ${min}, got "${text}"`);
  }
  return value;
}

function decimal(flags: Flags, name: string): number | undefined {
  const text = flags[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got "${text}"`);
  }
  return value;
}

function choice<T extends string>(flags: Flags, name: string, choices: readonly T[]): T | undefined {
  const value = flags[name] as string | undefined;
  if (value !== undefined && !choices.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}; got "${value}"`);
  }
  return value as T | undefined;
}

const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The run config the flags describe, with `--flag` named in any range error. */
function configFromFlags(flags: Flags): RunConfig {
  const pretrained = flags.pretrained as string | undefined;
  const model = choice(flags, "model", MODEL_NAMES);
  try {
    return resolveConfig({
      dataset: choice(flags, "dataset", ["cifar10", "cifar100"] as const),
      model,
      stem: choice(flags, "stem", ["imagenet", "cifar"] as const) ?? (pretrained ? "imagenet" : "cifar"),
      epochs: integer(flags, "epochs"),
      batchSize: integer(flags, "batch-size"),
      lr: decimal(flags, "lr"),
      momentum: decimal(flags, "momentum"),
      weightDecay: decimal(flags, "weight-decay"),
      nesterov: flags.nesterov as boolean | undefined,
      schedule: choice(flags, "schedule", SCHEDULE_NAMES),
      warmup: integer(flags, "warmup", 0),
      labelSmoothing: decimal(flags, "label-smoothing"),
      seed: integer(flags, "seed", 0),
      pretrained,
      freeze: flags.freeze as string | undefined,
      limit: integer(flags, "limit"),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--${kebab(error.field)}: ${error.message}`);
    throw error;
  }
}

/** `runs/<model>-<dataset>`, numbered `-2`, `-3`, ... when a run is already there. */
async function defaultOut(config: RunConfig): Promise<string> {
  const base = join("runs", `${config.model}-${config.dataset}`);
  for (let n = 1;; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (!await exists(checkpointPaths(dir, "last").state)) return dir;
  }
}

/** Human lines go to stdout, except with `--json`, whose stdout holds only the JSON result. */
function humanOutput(json: boolean): (line: string) => void {
  return json ? (line) => console.error(line) : (line) => console.log(line);
}

async function createGpu(log: (line: string) => void): Promise<Gpu> {
  const gpu = await Gpu.create();
  log(`WebGPU adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  return gpu;
}

async function loadData(flags: Flags, dataset: CifarName, log: (line: string) => void) {
  const data = await loadCifar({
    dataset,
    path: flags.data as string | undefined,
    download: !flags["no-download"],
  });
  for (const warning of data.warnings) log(`warning: ${warning}`);
  return data;
}

const train: Command = {
  help: TRAIN_HELP,
  options: {
    data: string,
    dataset: string,
    "no-download": boolean,
    limit: string,
    model: string,
    stem: string,
    epochs: string,
    "batch-size": string,
    lr: string,
    momentum: string,
    "weight-decay": string,
    nesterov: boolean,
    schedule: string,
    warmup: string,
    "label-smoothing": string,
    seed: string,
    pretrained: string,
    freeze: string,
    out: string,
    resume: string,
    "no-tune": boolean,
    json: boolean,
  },
  async run(flags) {
    const json = flags.json === true;
    const log = humanOutput(json);
    const resume = flags.resume as string | undefined;
    let config: RunConfig;
    let out: string;
    if (resume !== undefined) {
      const clash = RECIPE_FLAGS.find((name) => flags[name] !== undefined);
      if (clash) {
        throw new UsageError(
          `--${clash} cannot be combined with --resume: a resumed run keeps its saved settings`,
        );
      }
      config = (await loadTrainingState(resume)).config;
      out = resume;
    } else {
      config = configFromFlags(flags);
      out = (flags.out as string | undefined) ?? await defaultOut(config);
    }
    const gpu = await createGpu(console.error);
    if (!flags["no-tune"]) {
      console.error("Tuning the convolution kernels for this adapter (once; cached)...");
      await tuneConvolutionsCached(gpu, defaultCacheDir());
    }
    const data = await loadData(flags, config.dataset, console.error);
    const interrupt = stopOnInterrupt((line) => console.error(line));
    let result;
    try {
      result = await fit(gpu, {
        out,
        config,
        data,
        resume: resume !== undefined,
        signal: interrupt.signal,
        log,
      });
    } finally {
      interrupt.dispose();
    }
    const resumeCommand = `deno run -A cli.ts train --resume ${out}`;
    if (json) {
      const paths = checkpointPaths(out, "last");
      console.log(JSON.stringify({
        status: result.status,
        message: result.message,
        out,
        step: result.step,
        epochs: result.history,
        best: result.best,
        checkpoint: paths.weights,
        bestCheckpoint: result.best ? checkpointPaths(out, "best").weights : undefined,
        metrics: join(out, "metrics.jsonl"),
        report: join(out, "report.html"),
        resume: result.status === "interrupted" ? resumeCommand : undefined,
      }));
    } else {
      log(result.message);
      if (result.status === "interrupted") log(`resume with: ${resumeCommand}`);
      else if (result.history.length) log(`report: ${join(out, "report.html")}`);
    }
    return result.status === "completed" ? 0 : result.status === "interrupted" ? 130 : 1;
  },
};

const evalCommand: Command = {
  help: EVAL_HELP,
  options: {
    checkpoint: string,
    data: string,
    dataset: string,
    "no-download": boolean,
    split: string,
    limit: string,
    "batch-size": string,
    model: string,
    stem: string,
    json: boolean,
  },
  async run(flags) {
    const json = flags.json === true;
    const log = humanOutput(json);
    const checkpoint = flags.checkpoint as string | undefined;
    if (!checkpoint) throw new UsageError("--checkpoint is required");
    const model = choice(flags, "model", MODEL_NAMES);
    const stem = choice(flags, "stem", ["imagenet", "cifar"] as const);
    const split = choice(flags, "split", ["test", "train"] as const) ?? "test";
    const limit = integer(flags, "limit");
    const batchSize = integer(flags, "batch-size") ?? 256;
    let dataset = choice(flags, "dataset", ["cifar10", "cifar100"] as const);
    const opened = await openCheckpoint(checkpoint, { model, stem });
    dataset ??= opened.config?.dataset ?? (opened.info.classes.length === 100 ? "cifar100" : "cifar10");
    const gpu = await createGpu(console.error);
    const data = await loadData(flags, dataset, console.error);
    const samples = limitDataset(data[split], limit, `${dataset} ${split} set`);
    const result = await evaluate(gpu, opened.model, samples, {
      batchSize,
      mean: opened.info.mean,
      std: opened.info.std,
    });
    if (json) {
      console.log(
        JSON.stringify({ checkpoint: opened.path, model: opened.info.model, dataset, split, ...result }),
      );
    } else {
      log(`${opened.info.model} (${opened.path}) on the ${dataset} ${split} set`);
      log(formatEvaluation(result));
    }
    return 0;
  },
};

const predict: Command = {
  help: PREDICT_HELP,
  positionals: true,
  options: { checkpoint: string, "top-k": string, model: string, stem: string, json: boolean },
  async run(flags, files) {
    const json = flags.json === true;
    const checkpoint = flags.checkpoint as string | undefined;
    if (!checkpoint) throw new UsageError("--checkpoint is required");
    if (files.length === 0) throw new UsageError("give at least one image file");
    const k = integer(flags, "top-k") ?? 5;
    const opened = await openCheckpoint(checkpoint, {
      model: choice(flags, "model", MODEL_NAMES),
      stem: choice(flags, "stem", ["imagenet", "cifar"] as const),
    });
    const gpu = await createGpu(console.error);
    const predictions = await predictFiles(gpu, opened.model, opened.info, files, k);
    if (json) console.log(JSON.stringify({ checkpoint: opened.path, model: opened.info.model, predictions }));
    else console.log(formatPredictions(predictions));
    return 0;
  },
};

const summaryCommand: Command = {
  help: SUMMARY_HELP,
  options: {
    model: string,
    stem: string,
    classes: string,
    "input-size": string,
    "batch-size": string,
    freeze: string,
    json: boolean,
  },
  run(flags) {
    const name: ModelName = choice(flags, "model", MODEL_NAMES) ?? d.model;
    const cifarModel = isCifarModel(name);
    const stem: Stem = choice(flags, "stem", ["imagenet", "cifar"] as const) ??
      (cifarModel ? "cifar" : "imagenet");
    const numClasses = integer(flags, "classes") ?? (cifarModel ? 10 : 1000);
    const size = integer(flags, "input-size") ?? (cifarModel || stem === "cifar" ? 32 : 224);
    const model = buildModel(name, { numClasses, stem });
    if (flags.freeze !== undefined) {
      try {
        applyFreeze(model, flags.freeze as string);
      } catch (error) {
        throw new UsageError(`--freeze: ${(error as Error).message}`);
      }
    }
    const table = summary(model.trace([3, size, size]), integer(flags, "batch-size") ?? 1);
    if (flags.json) {
      console.log(JSON.stringify({
        model: name,
        stem: cifarModel ? undefined : stem,
        inputShape: [3, size, size],
        rows: table.rows,
        totalParameters: table.totalParameters,
        trainableParameters: table.trainableParameters,
      }));
    } else console.log(table.text);
    return Promise.resolve(0);
  },
};

const COMMANDS: Record<string, Command> = { train, eval: evalCommand, predict, summary: summaryCommand };

/**
 * Runs the command line `args` (without the program name) and returns the exit code: 0 success, 1 error,
 * 2 usage error, 130 interrupted.
 *
 * @example
 * ```ts ignore
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["summary", "--model", "resnet18"]));
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
        options: { ...command.options, ...help },
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
