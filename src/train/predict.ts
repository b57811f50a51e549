/**
 * Prediction on image files: decode, resize and centre-crop to the model's input, normalise, run the
 * model and turn its logits into the top-k classes with their softmax probabilities.
 *
 * @module
 */

import { readImage } from "../data/images.ts";
import { prepareImage } from "../data/transforms.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Module } from "../nn/module.ts";
import type { ModelInfo } from "./checkpoint.ts";
import { Inference } from "../compile/inference.ts";
import type { ConvTuning } from "../ops/conv2d.ts";

/** One of the most probable classes of an image. */
export interface ClassProbability {
  /** Output index. */
  index: number;
  /** Class name. */
  name: string;
  /** Softmax probability in [0, 1]. */
  probability: number;
}

/** The prediction for one file. */
export interface Prediction {
  /** The image file. */
  file: string;
  /** The `k` most probable classes, most probable first. */
  top: ClassProbability[];
}

/**
 * The `k` most probable classes of one row of logits (softmax in float64, max-subtracted).
 *
 * @example
 * ```ts
 * import { topClasses } from "@denogpu/resnet/train";
 * topClasses(new Float32Array([0, 2, 1]), ["a", "b", "c"], 2); // b (0.665), c (0.245)
 * ```
 */
export function topClasses(
  logits: ArrayLike<number>,
  classes: readonly string[],
  k: number,
): ClassProbability[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  const exp = Array.from(logits, (v) => {
    const e = Math.exp(v - max);
    sum += e;
    return e;
  });
  return exp
    .map((e, index) => ({ index, name: classes[index] ?? `class ${index}`, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.max(1, Math.min(k, logits.length)));
}

/**
 * Predicts the `k` most probable classes of each PNG, JPEG or WebP file with `model`. Every file is decoded
 * first, so an unreadable one fails before any GPU work, naming the file. `tuning` says how the
 * convolution kernels run (default: untuned; e.g. `await tuneConvolutionsCached(gpu, cacheDir)`).
 *
 * @example
 * ```ts ignore
 * const { model, info } = await openCheckpoint("runs/resnet20-cifar10");
 * const predictions = await predictFiles(gpu, model, info, ["cat.png"], 3);
 * console.log(predictions[0].top[0].name);
 * ```
 */
export async function predictFiles(
  gpu: Gpu,
  model: Module,
  info: ModelInfo,
  files: readonly string[],
  k = 5,
  tuning?: ConvTuning,
): Promise<Prediction[]> {
  if (files.length === 0) throw new Error("no image files given");
  const [channels, height, width] = info.inputShape;
  if (channels !== 3 || height !== width) {
    throw new Error(`predicting needs a square RGB input, the model takes [${info.inputShape.join(", ")}]`);
  }
  const perImage = channels * height * width;
  const inputs = new Float32Array(files.length * perImage);
  for (const [i, file] of files.entries()) {
    const image = await readImage(file);
    inputs.set(prepareImage(image, { size: height, mean: info.mean, std: info.std }), i * perImage);
  }
  const inference = await Inference.compile(gpu, model, {
    batchSize: Math.min(files.length, 32),
    inputShape: info.inputShape,
    tuning,
  });
  const logits = await inference.run(inputs);
  const classes = inference.classes;
  return files.map((file, i) => ({
    file,
    top: topClasses(logits.subarray(i * classes, (i + 1) * classes), info.classes, k),
  }));
}

/**
 * Predictions as text: each file, then its classes with their probabilities.
 *
 * @example
 * ```ts
 * import { formatPredictions } from "@denogpu/resnet/train";
 * console.log(formatPredictions([{ file: "cat.png", top: [{ index: 3, name: "cat", probability: 0.9 }] }]));
 * ```
 */
export function formatPredictions(predictions: readonly Prediction[]): string {
  return predictions.map((p) => {
    const width = Math.max(...p.top.map((c) => c.name.length));
    return [
      p.file,
      ...p.top.map((c) => `  ${c.name.padEnd(width)}  ${(c.probability * 100).toFixed(2).padStart(6)}%`),
    ]
      .join("\n");
  }).join("\n");
}
