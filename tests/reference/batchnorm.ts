/**
 * Float64 CPU references of `nn.BatchNorm2d` (eval and train mode, with an optional fused ReLU) and of the
 * train-mode backward. Tensors are NCHW with `spatial = H * W`; parameters and statistics are `[C]`.
 *
 * @module
 */

import type { BatchNormShape } from "../../src/ops/batchnorm.ts";

/** The affine parameters and running statistics of a batch-norm layer, each `[C]`. */
export interface BatchNormReferenceParameters {
  /** gamma. */
  weight: ArrayLike<number>;
  /** beta. */
  bias: ArrayLike<number>;
  /** Running mean. */
  runningMean: ArrayLike<number>;
  /** Running variance. */
  runningVar: ArrayLike<number>;
}

/** What {@linkcode batchNormTrainReference} returns. */
export interface BatchNormTrainReference {
  /** The normalised (and, with `relu`, rectified) output, NCHW. */
  output: Float64Array;
  /** Batch mean per channel. */
  mean: Float64Array;
  /** `1 / sqrt(biased batch variance + eps)` per channel, as PyTorch saves it for backward. */
  invStd: Float64Array;
  /** The running mean after the update: `(1 - momentum) * running_mean + momentum * mean`. */
  runningMean: Float64Array;
  /** The running variance after the update, with the unbiased batch variance. */
  runningVar: Float64Array;
}

/** Gradients of a train-mode batch norm. */
export interface BatchNormReferenceGradients {
  /** d loss / d input, NCHW. */
  gradInput: Float64Array;
  /** d loss / d weight, `[C]`. */
  gradWeight: Float64Array;
  /** d loss / d bias, `[C]`. */
  gradBias: Float64Array;
}

function forEachChannelValue(
  s: BatchNormShape,
  c: number,
  visit: (index: number) => void,
): void {
  for (let n = 0; n < s.batch; n++) {
    const base = (n * s.channels + c) * s.spatial;
    for (let i = 0; i < s.spatial; i++) visit(base + i);
  }
}

/** Mean and biased variance of every channel, by the two-pass formula. */
function channelStatistics(
  input: ArrayLike<number>,
  s: BatchNormShape,
): { mean: Float64Array; variance: Float64Array } {
  const count = s.batch * s.spatial;
  const mean = new Float64Array(s.channels);
  const variance = new Float64Array(s.channels);
  for (let c = 0; c < s.channels; c++) {
    let sum = 0;
    forEachChannelValue(s, c, (i) => sum += input[i]);
    mean[c] = sum / count;
    let squares = 0;
    forEachChannelValue(s, c, (i) => squares += (input[i] - mean[c]) ** 2);
    variance[c] = squares / count;
  }
  return { mean, variance };
}

function normalise(
  input: ArrayLike<number>,
  s: BatchNormShape,
  mean: ArrayLike<number>,
  invStd: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  relu: boolean,
): Float64Array {
  const output = new Float64Array(s.batch * s.channels * s.spatial);
  for (let c = 0; c < s.channels; c++) {
    forEachChannelValue(s, c, (i) => {
      const v = (input[i] - mean[c]) * invStd[c] * weight[c] + bias[c];
      output[i] = relu ? Math.max(v, 0) : v;
    });
  }
  return output;
}

/**
 * `BatchNorm2d` in eval mode: `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`, then ReLU
 * when `relu` is true.
 *
 * @example
 * ```ts
 * const y = batchNormEvalReference(new Float32Array([1, 2, 3, 4]), { batch: 2, channels: 1, spatial: 2 }, {
 *   weight: [1], bias: [0], runningMean: [0], runningVar: [1],
 * }, { eps: 1e-5, relu: false });
 * ```
 */
export function batchNormEvalReference(
  input: ArrayLike<number>,
  s: BatchNormShape,
  parameters: BatchNormReferenceParameters,
  o: { eps: number; relu: boolean },
): Float64Array {
  const invStd = Float64Array.from(parameters.runningVar, (v) => 1 / Math.sqrt(v + o.eps));
  return normalise(input, s, parameters.runningMean, invStd, parameters.weight, parameters.bias, o.relu);
}

/**
 * `BatchNorm2d` in train mode: normalises with the batch mean and biased variance, updates the running
 * statistics with `momentum` (the running variance with the unbiased batch variance `var * n / (n - 1)`),
 * then applies ReLU when `relu` is true. The given parameters are not modified.
 */
export function batchNormTrainReference(
  input: ArrayLike<number>,
  s: BatchNormShape,
  parameters: BatchNormReferenceParameters,
  o: { eps: number; momentum: number; relu: boolean },
): BatchNormTrainReference {
  const count = s.batch * s.spatial;
  const { mean, variance } = channelStatistics(input, s);
  const invStd = variance.map((v) => 1 / Math.sqrt(v + o.eps));
  const runningMean = Float64Array.from(
    parameters.runningMean,
    (r, c) => (1 - o.momentum) * r + o.momentum * mean[c],
  );
  const runningVar = Float64Array.from(
    parameters.runningVar,
    (r, c) => (1 - o.momentum) * r + o.momentum * variance[c] * count / (count - 1),
  );
  const output = normalise(input, s, mean, invStd, parameters.weight, parameters.bias, o.relu);
  return { output, mean, invStd, runningMean, runningVar };
}

/**
 * Gradients of train-mode `BatchNorm2d` (and its fused ReLU when `relu` is true) for `gradOutput`, by the
 * closed form `dx = weight * invStd * (g - mean(g) - xhat * mean(g * xhat))` where `g` is `gradOutput`
 * masked by the ReLU and `xhat` the normalised input. The batch statistics are recomputed from `input`.
 */
export function batchNormBackwardReference(
  input: ArrayLike<number>,
  s: BatchNormShape,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  gradOutput: ArrayLike<number>,
  o: { eps: number; relu: boolean },
): BatchNormReferenceGradients {
  const count = s.batch * s.spatial;
  const { mean, variance } = channelStatistics(input, s);
  const invStd = variance.map((v) => 1 / Math.sqrt(v + o.eps));
  const output = normalise(input, s, mean, invStd, weight, bias, o.relu);
  const masked = Float64Array.from(gradOutput, (g, i) => !o.relu || output[i] > 0 ? g : 0);
  const gradInput = new Float64Array(masked.length);
  const gradWeight = new Float64Array(s.channels);
  const gradBias = new Float64Array(s.channels);
  for (let c = 0; c < s.channels; c++) {
    const xhat = (i: number) => (input[i] - mean[c]) * invStd[c];
    forEachChannelValue(s, c, (i) => {
      gradBias[c] += masked[i];
      gradWeight[c] += masked[i] * xhat(i);
    });
    const meanG = gradBias[c] / count, meanGXhat = gradWeight[c] / count;
    forEachChannelValue(s, c, (i) => {
      gradInput[i] = weight[c] * invStd[c] * (masked[i] - meanG - xhat(i) * meanGXhat);
    });
  }
  return { gradInput, gradWeight, gradBias };
}
