/**
 * `predict`: the top classes of PNG, JPEG or WebP images under a checkpoint.
 *
 * @module
 */

import { MODEL_NAMES } from "../src/models/table.ts";
import { openCheckpoint } from "../src/train/checkpoint.ts";
import { formatPredictions, predictFiles } from "../src/train/predict.ts";
import { cachedConvTuning, loadConvTuning } from "../src/train/tuning.ts";
import { defaultCacheDir } from "../src/io/cache.ts";
import { boolean, choice, type Command, createGpu, integer, string, UsageError } from "./_flags.ts";

const PREDICT_HELP = `Predict the classes of PNG, JPEG or WebP images.

Usage: deno run -A cli.ts predict --checkpoint PATH [flags] IMAGE...

Each image's shorter side is resized to the model's input (antialiased bilinear), centre-cropped and
normalised as in training.

  --checkpoint PATH      a run folder (its best, else last, weights) or a .safetensors/.pth file
  --top-k N              classes to show per image (default 5)
  --model NAME           the model, for files that do not say (torchvision .pth files)
  --stem STEM            imagenet | cifar, for files that do not say (default imagenet)
  --tuning FILE          the convolution tuning in FILE (default: the one train cached for this adapter)
  --json                 print the result as JSON on stdout
  -h, --help             this help`;

/**
 * `predict`: classifies image files with a checkpoint.
 *
 * @example
 * ```ts
 * import { main } from "@denogpu/resnet/cli";
 * await main(["predict", "--checkpoint", "runs/resnet20-cifar10", "--top-k", "3", "cat.png"]);
 * ```
 */
export const predict: Command = {
  help: PREDICT_HELP,
  positionals: true,
  options: {
    checkpoint: string,
    "top-k": string,
    model: string,
    stem: string,
    tuning: string,
    json: boolean,
  },
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
    // The tuning `train` measured on this adapter, if any: predicting never measures.
    const tuning = flags.tuning !== undefined
      ? await loadConvTuning(flags.tuning as string)
      : await cachedConvTuning(gpu, defaultCacheDir());
    const predictions = await predictFiles(gpu, opened.model, opened.info, files, k, tuning);
    if (json) console.log(JSON.stringify({ checkpoint: opened.path, model: opened.info.model, predictions }));
    else console.log(formatPredictions(predictions));
    return 0;
  },
};
