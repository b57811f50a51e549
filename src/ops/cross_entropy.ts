/**
 * Softmax cross-entropy loss (PyTorch's `F.cross_entropy` with `reduction="mean"` and `label_smoothing`),
 * fused forward and backward, with running loss and accuracy statistics kept on the GPU.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, numel, type Tensor } from "../gpu/kernel.ts";
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import crossEntropyCode from "../../shaders/cross_entropy.wgsl" with { type: "text" };

/** The label of a padding sample: it adds nothing to the loss, its gradient or the statistics. */
export const PADDING_LABEL = 0xffffffff;

/** Slots of the statistics buffer {@linkcode crossEntropy} accumulates into. */
export const STATS = {
  /** Sum of the per-sample losses of the real samples. */
  lossSum: 0,
  /** Real samples whose label has the largest logit. */
  top1: 1,
  /** Real samples whose label is among the five largest logits. */
  top5: 2,
  /** Real samples. */
  samples: 3,
} as const;

/** Number of floats in the statistics buffer. */
export const STATS_LENGTH = 4;

/** Sizes of a {@linkcode crossEntropy} op. */
export interface CrossEntropySizes {
  /** Samples in the batch, padding samples included. */
  batch: number;
  /** Number of classes (logits per sample). */
  classes: number;
  /** PyTorch's `label_smoothing` in [0, 1]: the target is `(1 - ls) * onehot + ls / classes`. */
  labelSmoothing: number;
}

/** Tensors of a {@linkcode crossEntropy} op. */
export interface CrossEntropyTensors {
  /** Logits, `[batch, classes]`. */
  logits: Tensor;
  /** Labels as u32, `[batch]`; {@linkcode PADDING_LABEL} (or any value >= classes) marks a padding sample. */
  labels: Tensor;
  /** Receives d(mean loss)/d(logits), `[batch, classes]`; omit it for evaluation (statistics only). */
  gradLogits?: Tensor;
  /** `[4]` floats laid out as {@linkcode STATS}; added to on every run, never reset by the op. */
  stats: Tensor;
}

const code = compose(reduceCode, crossEntropyCode);

function workgroupSize(classes: number): number {
  // A power of two for the tree reductions; small class counts need no more than one warp.
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(classes))));
}

function checkSizes(s: { batch: number; classes: number }, label: string): void {
  for (const [name, value] of Object.entries({ batch: s.batch, classes: s.classes })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${label}: ${name} must be a positive integer, got ${value}`);
    }
  }
}

function checkLength(t: Tensor, expected: number, what: string, label: string): void {
  if (numel(t.shape) !== expected) {
    throw new RangeError(`${label}: ${what} has ${numel(t.shape)} elements, expected ${expected}`);
  }
}

/**
 * Dispatches computing the mean softmax cross-entropy over the real (non-padding) samples, its gradient
 * with respect to the logits (when `gradLogits` is given) and adding the batch's loss sum, top-1 and top-5
 * hits and real-sample count to `stats`. The mean divides by the number of real labels, counted on the
 * GPU; a batch of padding only has a zero gradient. The log-sum-exp subtracts the row maximum first.
 * Allocates 16 bytes per sample of its own for the per-sample results, once.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { crossEntropy } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const logits = gpu.upload("logits", new Float32Array([2, 0, -1, 0.5, 0.5, 3]));
 * const labels = gpu.upload("labels", new Uint32Array([0, 2]));
 * const grad = gpu.buffer("grad logits", 6 * 4);
 * const stats = gpu.buffer("stats", 4 * 4);
 * submit(gpu, crossEntropy(gpu, { batch: 2, classes: 3, labelSmoothing: 0.1 }, {
 *   logits: tensor(logits, [2, 3]),
 *   labels: tensor(labels, [2]),
 *   gradLogits: tensor(grad, [2, 3]),
 *   stats: tensor(stats, [4]),
 * }, "head: loss"));
 * const [lossSum, top1, , samples] = await gpu.readFloats(stats, 0, 4);
 * console.log(lossSum / samples, top1 / samples);
 * ```
 */
export function crossEntropy(
  gpu: Gpu,
  s: CrossEntropySizes,
  t: CrossEntropyTensors,
  label: string,
): Dispatch[] {
  checkSizes(s, label);
  if (!(s.labelSmoothing >= 0 && s.labelSmoothing <= 1)) {
    throw new RangeError(`${label}: labelSmoothing must be in [0, 1], got ${s.labelSmoothing}`);
  }
  checkLength(t.logits, s.batch * s.classes, "logits", label);
  checkLength(t.labels, s.batch, "labels", label);
  checkLength(t.stats, STATS_LENGTH, "stats", label);
  if (t.gradLogits) checkLength(t.gradLogits, s.batch * s.classes, "gradLogits", label);

  const wg = workgroupSize(s.classes);
  const uniforms = { batch: s.batch, classes: s.classes, smoothing: s.labelSmoothing };
  const perSample = gpu.buffer(`${label}: cross-entropy per-sample results`, s.batch * 16);
  const rows = kernel(gpu, {
    label: `${label}: cross-entropy ${t.gradLogits ? "forward+backward" : "forward"}`,
    code,
    entryPoint: t.gradLogits ? "forward_backward" : "forward",
    constants: { WG: wg },
    uniforms,
    bindings: { logits: t.logits, labels: t.labels, perSample, gradLogits: t.gradLogits },
    workgroups: grid(s.batch * wg, wg),
  });
  const accumulate = kernel(gpu, {
    label: `${label}: cross-entropy statistics`,
    code,
    entryPoint: "accumulate",
    constants: { WG: 256 },
    uniforms,
    bindings: { sampleResults: perSample, stats: t.stats },
    workgroups: [1, 1, 1],
  });
  return [rows, accumulate];
}

/** Sizes of an {@linkcode argmax} op. */
export interface ArgmaxSizes {
  /** Rows. */
  batch: number;
  /** Values per row. */
  classes: number;
}

/**
 * A dispatch writing, for each row of `logits` (`[batch, classes]`), the index of its largest value (the
 * lowest such index on ties) into `predictions` (`[batch]` u32), for evaluation and inference.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { argmax } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const logits = gpu.upload("logits", new Float32Array([2, 0, -1, 0.5, 0.5, 3]));
 * const predictions = gpu.buffer("predictions", 2 * 4);
 * submit(gpu, argmax(gpu, { batch: 2, classes: 3 }, {
 *   logits: tensor(logits, [2, 3]),
 *   predictions: tensor(predictions, [2]),
 * }, "head: argmax"));
 * console.log(new Uint32Array(await gpu.read(predictions, 0, 8))); // [0, 2]
 * ```
 */
export function argmax(
  gpu: Gpu,
  s: ArgmaxSizes,
  t: { logits: Tensor; predictions: Tensor },
  label: string,
): Dispatch[] {
  checkSizes(s, label);
  checkLength(t.logits, s.batch * s.classes, "logits", label);
  checkLength(t.predictions, s.batch, "predictions", label);
  const wg = workgroupSize(s.classes);
  return [kernel(gpu, {
    label: `${label}: argmax`,
    code,
    entryPoint: "argmax",
    constants: { WG: wg },
    uniforms: { batch: s.batch, classes: s.classes, smoothing: 0 },
    bindings: { logits: t.logits, predicted: t.predictions },
    workgroups: grid(s.batch * wg, wg),
  })];
}
