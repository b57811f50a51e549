/**
 * Plain CPU reference of a fully connected layer in float64 (PyTorch's `nn.Linear`: `y = x W^T + b`,
 * weight `[outFeatures, inFeatures]`).
 *
 * @module
 */

import type { LinearSizes } from "../../src/ops/linear.ts";

/**
 * `output[b, o] = bias[o] + sum over i of input[b, i] * weight[o, i]`.
 *
 * @param input `[batch, inFeatures]`
 * @param weight `[outFeatures, inFeatures]`
 * @param bias `[outFeatures]`, or undefined for none
 * @returns `[batch, outFeatures]`
 */
export function linearForwardReference(
  input: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  s: LinearSizes,
): Float64Array {
  const output = new Float64Array(s.batch * s.outFeatures);
  for (let b = 0; b < s.batch; b++) {
    for (let o = 0; o < s.outFeatures; o++) {
      let sum = bias ? bias[o] : 0;
      for (let i = 0; i < s.inFeatures; i++) {
        sum += input[b * s.inFeatures + i] * weight[o * s.inFeatures + i];
      }
      output[b * s.outFeatures + o] = sum;
    }
  }
  return output;
}

/**
 * Gradients of a loss with respect to the layer's input, weight and bias, given its `input` and
 * `gradOutput` (the loss's gradient with respect to the output), summed over the batch.
 *
 * @param input `[batch, inFeatures]`
 * @param weight `[outFeatures, inFeatures]`
 * @param gradOutput `[batch, outFeatures]`
 * @returns `gradInput` `[batch, inFeatures]`, `gradWeight` `[outFeatures, inFeatures]`, `gradBias` `[outFeatures]`
 */
export function linearBackwardReference(
  input: ArrayLike<number>,
  weight: ArrayLike<number>,
  gradOutput: ArrayLike<number>,
  s: LinearSizes,
): { gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array } {
  const gradInput = new Float64Array(s.batch * s.inFeatures);
  const gradWeight = new Float64Array(s.outFeatures * s.inFeatures);
  const gradBias = new Float64Array(s.outFeatures);
  for (let b = 0; b < s.batch; b++) {
    for (let o = 0; o < s.outFeatures; o++) {
      const dy = gradOutput[b * s.outFeatures + o];
      gradBias[o] += dy;
      for (let i = 0; i < s.inFeatures; i++) {
        gradInput[b * s.inFeatures + i] += dy * weight[o * s.inFeatures + i];
        gradWeight[o * s.inFeatures + i] += dy * input[b * s.inFeatures + i];
      }
    }
  }
  return { gradInput, gradWeight, gradBias };
}
