/**
 * Fully connected layer (PyTorch's `nn.Linear`: `y = x W^T + b`, weight `[outFeatures, inFeatures]`),
 * run as a 1x1 convolution over 1x1 images: a plain GEMM with the convolution kernels' tiling.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, Tensor } from "../gpu/kernel.ts";
import { checkTensor } from "./_conv_kernels.ts";
import { backwardDataOp, backwardWeightOp, forwardOp } from "./_conv_chunks.ts";
import type { Conv2dGeometry } from "./conv2d.ts";

/** Sizes of a fully connected layer. */
export interface LinearSizes {
  /** Rows of the input. */
  batch: number;
  /** Features per input row. */
  inFeatures: number;
  /** Features per output row. */
  outFeatures: number;
}

/** The 1x1 convolution over 1x1 images that a fully connected layer of sizes `s` is (validated). */
export function asConvolution(s: LinearSizes): Conv2dGeometry {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`linear: ${name} must be a positive integer, got ${value}`);
    }
  }
  return {
    batch: s.batch,
    inChannels: s.inFeatures,
    inHeight: 1,
    inWidth: 1,
    outChannels: s.outFeatures,
    kernelHeight: 1,
    kernelWidth: 1,
    strideHeight: 1,
    strideWidth: 1,
    padHeight: 0,
    padWidth: 0,
    dilationHeight: 1,
    dilationWidth: 1,
    groups: 1,
    outHeight: 1,
    outWidth: 1,
  };
}

/**
 * The dispatches that compute `output = input weight^T + bias` (bias optional).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/device.ts";
 * import { submit, tensor } from "../gpu/kernel.ts";
 * import { linearForward } from "./linear.ts";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, inFeatures: 3, outFeatures: 2 };
 * const input = tensor(gpu.upload("x", new Float32Array([1, 2, 3, 4, 5, 6])), [2, 3]);
 * const weight = tensor(gpu.upload("w", new Float32Array([1, 0, 0, 0, 1, 0])), [2, 3]);
 * const bias = tensor(gpu.upload("b", new Float32Array([10, 20])), [2]);
 * const output = tensor(gpu.buffer("y", 4 * 4), [2, 2]);
 * submit(gpu, linearForward(gpu, s, { input, weight, bias, output }, "fc"));
 * console.log(await gpu.readFloats(output.buffer, 0, 4)); // [11, 22, 14, 25]
 * ```
 */
export function linearForward(
  gpu: Gpu,
  s: LinearSizes,
  t: { input: Tensor; weight: Tensor; bias?: Tensor; output: Tensor },
  label: string,
): Dispatch[] {
  const g = asConvolution(s);
  checkTensor(gpu, label, "input", t.input, s.batch * s.inFeatures, true);
  checkTensor(gpu, label, "weight", t.weight, s.outFeatures * s.inFeatures);
  if (t.bias) checkTensor(gpu, label, "bias", t.bias, s.outFeatures);
  checkTensor(gpu, label, "output", t.output, s.batch * s.outFeatures, true);
  return forwardOp(gpu, g, t, `${label}: linear forward`);
}

/**
 * The dispatches of the backward pass. Each of gradInput/gradWeight/gradBias is computed only when given;
 * gradients are overwritten, not accumulated.
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/device.ts";
 * import { submit, tensor } from "../gpu/kernel.ts";
 * import { linearBackward } from "./linear.ts";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, inFeatures: 3, outFeatures: 2 };
 * const input = tensor(gpu.upload("x", new Float32Array(6).fill(1)), [2, 3]);
 * const weight = tensor(gpu.upload("w", new Float32Array(6).fill(0.5)), [2, 3]);
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array(4).fill(1)), [2, 2]);
 * const gradWeight = tensor(gpu.buffer("dw", 6 * 4), [2, 3]);
 * submit(gpu, linearBackward(gpu, s, { input, weight, gradOutput, gradWeight }, "fc"));
 * ```
 */
export function linearBackward(
  gpu: Gpu,
  s: LinearSizes,
  t: {
    input: Tensor;
    weight: Tensor;
    gradOutput: Tensor;
    gradInput?: Tensor;
    gradWeight?: Tensor;
    gradBias?: Tensor;
  },
  label: string,
): Dispatch[] {
  const g = asConvolution(s);
  checkTensor(gpu, label, "input", t.input, s.batch * s.inFeatures, true);
  checkTensor(gpu, label, "weight", t.weight, s.outFeatures * s.inFeatures);
  checkTensor(gpu, label, "gradOutput", t.gradOutput, s.batch * s.outFeatures, true);
  if (t.gradInput) checkTensor(gpu, label, "gradInput", t.gradInput, s.batch * s.inFeatures, true);
  if (t.gradWeight) checkTensor(gpu, label, "gradWeight", t.gradWeight, s.outFeatures * s.inFeatures);
  if (t.gradBias) checkTensor(gpu, label, "gradBias", t.gradBias, s.outFeatures);
  const dispatches: Dispatch[] = [];
  if (t.gradInput) {
    const { gradOutput, weight, gradInput } = t;
    dispatches.push(
      ...backwardDataOp(gpu, g, { gradOutput, weight, gradInput }, `${label}: linear backward-input`),
    );
  }
  dispatches.push(...backwardWeightOp(gpu, g, t, {
    weight: `${label}: linear backward-weight`,
    bias: `${label}: linear bias gradient`,
  }));
  return dispatches;
}
