/**
 * Evaluation over a whole data set: mean cross-entropy, top-1 and top-5 accuracy, per-class accuracy and
 * the confusion matrix. Batches are made and run on the GPU and their logits gathered there, so a whole
 * evaluation costs one readback; the scores are computed on the host in float64.
 *
 * @module
 */

import type { ImageDataset } from "../data/dataset.ts";
import { GpuBatcher } from "../data/gpu_batcher.ts";
import type { Gpu } from "../gpu/device.ts";
import { encode } from "../gpu/kernel.ts";
import type { Module } from "../nn/module.ts";
import { GpuModel } from "../compile/gpu_model.ts";
import { Inference, largestBatch } from "../compile/inference.ts";
import type { ConvTuning } from "../ops/conv2d.ts";

/** Accuracy on the samples of one class. */
export interface ClassAccuracy {
  /** The class name. */
  name: string;
  /** Fraction of its samples predicted as it (0 when it has none). */
  accuracy: number;
  /** Samples of the class. */
  samples: number;
}

/** The scores of a model on a data set. */
export interface Evaluation {
  /** Mean cross-entropy (no label smoothing). */
  loss: number;
  /** Top-1 accuracy in [0, 1]. */
  top1: number;
  /** Top-5 accuracy in [0, 1] (1 with five classes or fewer). */
  top5: number;
  /** Samples scored. */
  samples: number;
  /** Per-class accuracy, in class order. */
  perClass: ClassAccuracy[];
  /** `confusion[label][prediction]`: how many samples of each class were predicted as each class. */
  confusion: number[][];
  /** The class names, indexing `confusion`. */
  classes: string[];
}

/**
 * Scores `logits` (`[samples, classes]` row-major) against `labels`: the loss in float64 from a
 * max-subtracted log-sum-exp, the prediction as the first largest logit (as `argmax`), and a hit in the
 * top 5 when fewer than five logits exceed the label's.
 *
 * @example
 * ```ts
 * import { scoreLogits } from "@denogpu/resnet/train";
 * const result = scoreLogits(new Float32Array([2, 0, 0, 3]), [0, 0], ["cat", "dog"]);
 * console.log(result.top1, result.confusion); // 0.5 [[1, 1], [0, 0]]
 * ```
 */
export function scoreLogits(logits: Float32Array, labels: ArrayLike<number>, classes: string[]): Evaluation {
  const count = labels.length;
  const k = classes.length;
  if (logits.length !== count * k) {
    throw new RangeError(`${logits.length} logits do not hold ${count} samples of ${k} classes`);
  }
  const confusion = classes.map(() => new Array<number>(k).fill(0));
  let lossSum = 0, top1 = 0, top5 = 0;
  for (let i = 0; i < count; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const label = labels[i];
    let best = 0, max = row[0];
    for (let c = 1; c < k; c++) {
      if (row[c] > max) {
        max = row[c];
        best = c;
      }
    }
    let sum = 0, above = 0;
    for (let c = 0; c < k; c++) {
      sum += Math.exp(row[c] - max);
      if (row[c] > row[label]) above++;
    }
    lossSum += Math.log(sum) + max - row[label];
    confusion[label][best]++;
    if (best === label) top1++;
    if (above < 5) top5++;
  }
  const perClass = classes.map((name, c) => {
    const samples = confusion[c].reduce((a, b) => a + b, 0);
    return { name, samples, accuracy: samples === 0 ? 0 : confusion[c][c] / samples };
  });
  const n = Math.max(count, 1);
  return { loss: lossSum / n, top1: top1 / n, top5: top5 / n, samples: count, perClass, confusion, classes };
}

/** Options of {@linkcode Evaluator.create}. */
export interface EvaluatorOptions {
  /** Images per forward pass; cut down to the largest batch that fits the adapter (scores are the same). */
  batchSize: number;
  /** Per-channel mean for normalisation; the data set's own by default. */
  mean?: readonly number[];
  /** Per-channel standard deviation for normalisation; the data set's own by default. */
  std?: readonly number[];
  /**
   * The model's input side; the data set's image size by default. Larger images give their centre
   * window, smaller ones are resized whole (see `BatchOptions.size`).
   */
  size?: number;
  /**
   * How the convolution kernels run, e.g. `await tuneConvolutionsCached(gpu, cacheDir)`.
   *
   * @default {defaultConvTuning(gpu)}
   */
  tuning?: ConvTuning;
}

/**
 * A model compiled to score one data set, as many times as wanted (e.g. after every epoch, sharing the
 * parameters of a training step).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { resnet20 } from "@denogpu/resnet";
 * import { Evaluator } from "@denogpu/resnet/train";
 * declare const test: import("../data/dataset.ts").ImageDataset;
 * const gpu = await Gpu.create();
 * const evaluator = await Evaluator.create(gpu, resnet20(), test, { batchSize: 256 });
 * const { top1, confusion } = await evaluator.run();
 * ```
 */
export class Evaluator {
  /** The data set scored. */
  readonly dataset: ImageDataset;
  readonly #gpu: Gpu;
  readonly #batcher: GpuBatcher;
  readonly #inferences: Inference[];
  readonly #logits: GPUBuffer;
  readonly #tuning?: ConvTuning;

  private constructor(
    gpu: Gpu,
    dataset: ImageDataset,
    batcher: GpuBatcher,
    inference: Inference,
    logits: GPUBuffer,
    tuning?: ConvTuning,
  ) {
    this.#gpu = gpu;
    this.dataset = dataset;
    this.#batcher = batcher;
    this.#inferences = [inference];
    this.#logits = logits;
    this.#tuning = tuning;
  }

  /** Uploads the data set once and compiles the eval-mode forward pass reading its batches. */
  static async create(
    gpu: Gpu,
    model: Module | GpuModel,
    dataset: ImageDataset,
    options: EvaluatorOptions,
  ): Promise<Evaluator> {
    // Any batch gives the same scores (eval mode treats samples alike), so a larger one than fits the
    // adapter is cut down to the largest that does.
    const gpuModel = model instanceof GpuModel ? model : GpuModel.create(gpu, model);
    const size = options.size ?? dataset.height;
    const fits = largestBatch(gpu, gpuModel.model.trace([dataset.channels, size, size]));
    const batchSize = Math.min(options.batchSize, dataset.count, Math.max(1, fits));
    const batcher = GpuBatcher.create(gpu, dataset, {
      batchSize,
      shuffle: false,
      augment: false,
      seed: 0,
      dropLast: false,
      mean: options.mean,
      std: options.std,
      size: options.size,
    }, { label: "evaluation data" });
    const inference = await Inference.compile(gpu, gpuModel, {
      batchSize,
      inputShape: batcher.images.shape.slice(1),
      input: batcher.images,
      tuning: options.tuning,
    });
    if (inference.classes !== dataset.classes.length) {
      batcher.destroy();
      throw new Error(
        `the model has ${inference.classes} outputs but the data set has ${dataset.classes.length} classes`,
      );
    }
    const logits = gpu.buffer("evaluation logits", dataset.count * inference.classes * 4);
    return new Evaluator(gpu, dataset, batcher, inference, logits, options.tuning);
  }

  /**
   * Compiles the forward pass of another model of the same outputs over the same uploaded data set (e.g.
   * a training step's averaged weights) and returns the index that {@linkcode Evaluator.run} takes.
   */
  async add(model: Module | GpuModel): Promise<number> {
    const first = this.#inferences[0];
    const inference = await Inference.compile(this.#gpu, model, {
      batchSize: first.images.shape[0],
      inputShape: first.images.shape.slice(1),
      input: first.images,
      tuning: this.#tuning,
    });
    if (inference.classes !== first.classes) {
      throw new Error(`the model has ${inference.classes} outputs, the first one evaluated ${first.classes}`);
    }
    return this.#inferences.push(inference) - 1;
  }

  /**
   * Runs model `index` (0: the one it was created with) over every sample (one readback) and scores it.
   * With a `signal`, the host stays at most two batches ahead of the GPU and checks the signal before each
   * batch, so that an abort ends the run within about a batch's time, with an `AbortError`.
   *
   * @throws {DOMException} Named `AbortError`, when `signal` is aborted before the last batch.
   */
  async run(index = 0, options: { signal?: AbortSignal } = {}): Promise<Evaluation> {
    const gpu = this.#gpu;
    const inference = this.#inferences[index];
    if (!inference) throw new RangeError(`Evaluator.run: no model ${index}`);
    const { signal } = options;
    const classes = inference.classes;
    const batchSize = inference.images.shape[0];
    const rowBytes = classes * 4;
    const inFlight: Promise<void>[] = [];
    for (let batch = 0; batch < this.#batcher.batchesPerEpoch; batch++) {
      if (signal?.aborted) {
        await Promise.all(inFlight);
        throw new DOMException(`the evaluation was stopped before batch ${batch + 1}`, "AbortError");
      }
      const count = this.#batcher.select(0, batch);
      const encoder = gpu.device.createCommandEncoder({ label: "evaluation" });
      encode(encoder, [...this.#batcher.dispatches, ...inference.dispatches]);
      const { buffer, offset } = inference.logits;
      encoder.copyBufferToBuffer(
        buffer,
        offset,
        this.#logits,
        batch * batchSize * rowBytes,
        count * rowBytes,
      );
      gpu.device.queue.submit([encoder.finish()]);
      if (signal) {
        inFlight.push(gpu.device.queue.onSubmittedWorkDone());
        if (inFlight.length > 2) await inFlight.shift();
      }
    }
    const logits = await gpu.readFloats(this.#logits, 0, this.dataset.count * classes);
    return scoreLogits(logits, this.dataset.labels, this.dataset.classes);
  }

  /** Releases the uploaded data set and the gathered logits. */
  destroy(): void {
    this.#batcher.destroy();
    this.#gpu.release(this.#logits);
  }
}

/**
 * Scores `model` on `dataset` once (see {@linkcode Evaluator}).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { resnet20 } from "@denogpu/resnet";
 * import { evaluate } from "@denogpu/resnet";
 * declare const test: import("../data/dataset.ts").ImageDataset;
 * const result = await evaluate(await Gpu.create(), resnet20(), test, { batchSize: 256 });
 * console.log(result.loss, result.top1, result.top5);
 * ```
 */
export async function evaluate(
  gpu: Gpu,
  model: Module | GpuModel,
  dataset: ImageDataset,
  options: EvaluatorOptions,
): Promise<Evaluation> {
  const evaluator = await Evaluator.create(gpu, model, dataset, options);
  try {
    return await evaluator.run();
  } finally {
    evaluator.destroy();
  }
}

/**
 * The evaluation as text: loss, top-1 and top-5, per-class accuracy and the confusion matrix (rows the
 * true class, columns the prediction; the matrix is left out beyond 20 classes).
 *
 * @example
 * ```ts
 * import { formatEvaluation, scoreLogits } from "@denogpu/resnet/train";
 * console.log(formatEvaluation(scoreLogits(new Float32Array([2, 0, 0, 3]), [0, 1], ["cat", "dog"])));
 * ```
 */
export function formatEvaluation(evaluation: Evaluation): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const { classes, confusion, perClass } = evaluation;
  const nameWidth = Math.max(5, ...classes.map((c) => c.length));
  const lines = [
    `loss ${evaluation.loss.toFixed(4)}  top-1 ${pct(evaluation.top1)}  top-5 ${pct(evaluation.top5)}  ` +
    `(${evaluation.samples} images)`,
    "",
    "per-class accuracy:",
    ...perClass.map((c) => `  ${c.name.padEnd(nameWidth)}  ${pct(c.accuracy).padStart(7)}  (${c.samples})`),
  ];
  if (classes.length <= 20) {
    const cell = Math.max(5, ...confusion.flat().map((n) => String(n).length + 1));
    const short = classes.map((c) => c.slice(0, cell - 1).padStart(cell));
    lines.push("", "confusion matrix (rows: true class, columns: predicted):");
    lines.push(`  ${"".padEnd(nameWidth)} ${short.join("")}`);
    confusion.forEach((row, r) => {
      lines.push(`  ${classes[r].padEnd(nameWidth)} ${row.map((n) => String(n).padStart(cell)).join("")}`);
    });
  }
  return lines.join("\n");
}
