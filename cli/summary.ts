/**
 * `summary`: a model's layer table, output shapes and parameter counts.
 *
 * @module
 */

import {
  buildModel,
  INPUT_SIZE,
  MODEL_NAMES,
  type ModelName,
  modelNamesOf,
  MODELS,
  modelStem,
} from "../src/models/table.ts";
import { summary as summarize } from "../src/nn/summary.ts";
import { applyFreeze } from "../src/train/pretrained.ts";
import { DEFAULT_CONFIG as d } from "../src/train/run_config.ts";
import { boolean, choice, type Command, helpList, integer, string, UsageError } from "./_flags.ts";

const SUMMARY_HELP = `Print a model's layers, output shapes and parameter counts.

Usage: deno run -A cli.ts summary [flags]

  --model NAME           ${helpList(modelNamesOf("imagenet"))},
                         ${helpList(modelNamesOf("cifar"))} (default ${d.model})
  --stem STEM            imagenet | cifar (default imagenet for torchvision's models)
  --classes N            outputs of fc (default 10 for the CIFAR ResNets, 1000 otherwise)
  --input-size N         input height and width (default 32 with a CIFAR model or stem, else 224)
  --batch-size N         the batch dimension shown (default 1)
  --freeze WHAT          none | backbone | a module: shows what stays trainable
  --json                 print the table as JSON on stdout
  -h, --help             this help`;

/**
 * `summary`: prints a model's layer table.
 *
 * @example
 * ```ts
 * import { main } from "@denogpu/resnet/cli";
 * await main(["summary", "--model", "resnet50", "--freeze", "layer3"]);
 * ```
 */
export const summary: Command = {
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
    const stem = modelStem(name, choice(flags, "stem", ["imagenet", "cifar"] as const));
    const numClasses = integer(flags, "classes") ?? MODELS[name].numClasses;
    const size = integer(flags, "input-size") ?? INPUT_SIZE[stem];
    const model = buildModel(name, { numClasses, stem });
    if (flags.freeze !== undefined) {
      try {
        applyFreeze(model, flags.freeze as string);
      } catch (error) {
        throw new UsageError(`--freeze: ${(error as Error).message}`);
      }
    }
    const table = summarize(model.trace([3, size, size]), integer(flags, "batch-size") ?? 1);
    if (flags.json) {
      console.log(JSON.stringify({
        model: name,
        stem: MODELS[name].family === "cifar" ? undefined : stem,
        inputShape: [3, size, size],
        rows: table.rows,
        totalParameters: table.totalParameters,
        trainableParameters: table.trainableParameters,
      }));
    } else console.log(table.text);
    return Promise.resolve(0);
  },
};
