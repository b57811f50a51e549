/**
 * `eval`: a checkpoint's loss, top-1 and top-5 accuracy, per-class accuracy and confusion matrix on a split.
 *
 * @module
 */

import { MODEL_NAMES } from "../src/models/table.ts";
import { openCheckpoint } from "../src/train/checkpoint.ts";
import { evaluate, formatEvaluation } from "../src/train/evaluate.ts";
import { limitDataset } from "../src/train/fit.ts";
import { cachedConvTuning, loadConvTuning } from "../src/train/tuning.ts";
import { defaultCacheDir } from "../src/io/cache.ts";
import {
  boolean,
  choice,
  type Command,
  createGpu,
  humanOutput,
  integer,
  loadData,
  string,
  UsageError,
} from "./_flags.ts";

const EVAL_HELP =
  `Evaluate a checkpoint: loss, top-1 and top-5 accuracy, per-class accuracy, confusion matrix.

Usage: deno run -A cli.ts eval --checkpoint PATH [flags]

  --checkpoint PATH      a run folder (its best, else last, weights) or a .safetensors/.pth file
  --data PATH            the CIFAR archive or folder, an image folder (its validation images are the
                         test split) or "synthetic" (default: the run's data, else the cache folder)
  --dataset NAME         cifar10 | cifar100 (default: the run's, else by the model's class count)
  --no-download          fail instead of downloading when the data is not there
  --split NAME           test | train (default test)
  --limit N              only the first N images
  --batch-size N         images per forward pass (default 256)
  --model NAME           the model, for files that do not say (torchvision .pth files)
  --stem STEM            imagenet | cifar, for files that do not say (default imagenet)
  --tuning FILE          the convolution tuning in FILE (default: the one train cached for this adapter)
  --json                 print the result as JSON on stdout
  -h, --help             this help`;

/**
 * `eval`: scores a checkpoint on a CIFAR split.
 *
 * @example
 * ```ts
 * import { main } from "@denogpu/resnet/cli";
 * await main(["eval", "--checkpoint", "runs/resnet20-cifar10", "--json"]);
 * ```
 */
export const evalCommand: Command = {
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
    tuning: string,
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
    const data = await loadData(
      flags,
      {
        dataset,
        data: (flags.data as string | undefined) ?? opened.config?.data,
        imageSize: opened.config?.imageSize,
        valSplit: opened.config?.valSplit,
      },
      console.error,
    );
    const samples = limitDataset(data[split], limit, `${data.name} ${split} set`);
    const result = await evaluate(gpu, opened.model, samples, {
      batchSize,
      mean: opened.info.mean,
      std: opened.info.std,
      size: opened.info.inputShape[1],
      // The tuning `train` measured on this adapter, if any: evaluating never measures.
      tuning: flags.tuning !== undefined
        ? await loadConvTuning(flags.tuning as string)
        : await cachedConvTuning(gpu, defaultCacheDir()),
    });
    if (json) {
      console.log(
        JSON.stringify({
          checkpoint: opened.path,
          model: opened.info.model,
          dataset: data.name,
          split,
          ...result,
        }),
      );
    } else {
      log(`${opened.info.model} (${opened.path}) on the ${data.name} ${split} set`);
      log(formatEvaluation(result));
    }
    return 0;
  },
};
