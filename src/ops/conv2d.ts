/**
 * 2-D convolution (PyTorch's `nn.Conv2d`): forward, backward-data and backward-weight, each an implicit
 * GEMM in WGSL (no im2col buffer), tiled in registers or workgroup memory as {@link ./_conv_strategy.ts}
 * chooses for the adapter ({@linkcode tuneConvolutions} times the choices once). The 3x3 stride-1
 * convolutions run forward and backward-data through Winograd F(2x2, 3x3) ({@link ./_conv_winograd.ts})
 * where the autotune measured that faster. Float32, NCHW, weights
 * `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, Tensor } from "../gpu/kernel.ts";
import { checkTensor } from "./_conv_kernels.ts";
import { backwardDataOp, backwardWeightOp, forwardOp } from "./_conv_chunks.ts";
import { useWinograd, winogradBackwardDataOp, winogradForwardOp } from "./_conv_winograd.ts";
import { denseApplies, denseBackwardDataOp, denseBackwardWeightOp, denseForwardOp } from "./_conv_dense.ts";

/** Every size of one convolution, as {@linkcode conv2dGeometry} computes it. */
export interface Conv2dGeometry {
  /** Images per batch (N). */
  batch: number;
  /** Input channels (C). */
  inChannels: number;
  /** Input height (H). */
  inHeight: number;
  /** Input width (W). */
  inWidth: number;
  /** Output channels. */
  outChannels: number;
  /** Kernel height. */
  kernelHeight: number;
  /** Kernel width. */
  kernelWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Zero padding above and below. */
  padHeight: number;
  /** Zero padding left and right. */
  padWidth: number;
  /** Vertical dilation. */
  dilationHeight: number;
  /** Horizontal dilation. */
  dilationWidth: number;
  /** Channel groups; input and output channels are both divisible by it. */
  groups: number;
  /** Output height. */
  outHeight: number;
  /** Output width. */
  outWidth: number;
}

/** A convolution's hyper-parameters, as `nn.Conv2d` takes them (each pair is `[height, width]`). */
export interface Conv2dOptions {
  /** Output channels. */
  outChannels: number;
  /** Kernel size. */
  kernelSize: [number, number];
  /** Stride. */
  stride: [number, number];
  /** Zero padding on each side. */
  padding: [number, number];
  /** Dilation. */
  dilation: [number, number];
  /** Channel groups. */
  groups: number;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`conv2d: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Validates a convolution of an input of shape `[N, C, H, W]` and computes its output size like PyTorch:
 * `floor((H + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`.
 *
 * @example
 * ```ts
 * import { conv2dGeometry } from "./conv2d.ts";
 * const g = conv2dGeometry([128, 64, 32, 32], {
 *   outChannels: 128, kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * console.log(g.outHeight, g.outWidth); // 16 16
 * ```
 */
export function conv2dGeometry(input: readonly number[], options: Conv2dOptions): Conv2dGeometry {
  if (input.length !== 4) throw new RangeError(`conv2d: input shape must be [N, C, H, W], got [${input}]`);
  const [batch, inChannels, inHeight, inWidth] = input;
  const { outChannels, kernelSize, stride, padding, dilation, groups } = options;
  requireInteger("batch", batch, 1);
  requireInteger("input channels", inChannels, 1);
  requireInteger("input height", inHeight, 1);
  requireInteger("input width", inWidth, 1);
  requireInteger("output channels", outChannels, 1);
  requireInteger("groups", groups, 1);
  for (let d = 0; d < 2; d++) {
    requireInteger("kernel size", kernelSize[d], 1);
    requireInteger("stride", stride[d], 1);
    requireInteger("padding", padding[d], 0);
    requireInteger("dilation", dilation[d], 1);
  }
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(
      `conv2d: input channels (${inChannels}) and output channels (${outChannels}) must be divisible by ` +
        `groups (${groups})`,
    );
  }
  const outSize = (size: number, d: number) =>
    Math.floor((size + 2 * padding[d] - dilation[d] * (kernelSize[d] - 1) - 1) / stride[d]) + 1;
  const outHeight = outSize(inHeight, 0);
  const outWidth = outSize(inWidth, 1);
  if (outHeight < 1 || outWidth < 1) {
    throw new RangeError(
      `conv2d: a ${inHeight}x${inWidth} input is too small for kernel [${kernelSize}], padding [${padding}] ` +
        `and dilation [${dilation}] (output would be ${outHeight}x${outWidth})`,
    );
  }
  return {
    batch,
    inChannels,
    inHeight,
    inWidth,
    outChannels,
    kernelHeight: kernelSize[0],
    kernelWidth: kernelSize[1],
    strideHeight: stride[0],
    strideWidth: stride[1],
    padHeight: padding[0],
    padWidth: padding[1],
    dilationHeight: dilation[0],
    dilationWidth: dilation[1],
    groups,
    outHeight,
    outWidth,
  };
}

function inputCount(g: Conv2dGeometry): number {
  return g.batch * g.inChannels * g.inHeight * g.inWidth;
}

function outputCount(g: Conv2dGeometry): number {
  return g.batch * g.outChannels * g.outHeight * g.outWidth;
}

function weightCount(g: Conv2dGeometry): number {
  return g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth;
}

/**
 * The dispatches that compute `output = conv2d(input, weight) + bias` (bias optional, `[outChannels]`).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/device.ts";
 * import { submit, tensor } from "../gpu/kernel.ts";
 * import { conv2dForward, conv2dGeometry } from "./conv2d.ts";
 * const gpu = await Gpu.create();
 * const g = conv2dGeometry([1, 3, 8, 8], {
 *   outChannels: 4, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * const input = tensor(gpu.upload("x", new Float32Array(3 * 64).fill(1)), [1, 3, 8, 8]);
 * const weight = tensor(gpu.upload("w", new Float32Array(4 * 27).fill(0.5)), [4, 3, 3, 3]);
 * const output = tensor(gpu.buffer("y", 4 * 64 * 4), [1, 4, 8, 8]);
 * submit(gpu, conv2dForward(gpu, g, { input, weight, output }, "conv1"));
 * console.log((await gpu.readFloats(output.buffer))[9]); // 13.5
 * ```
 */
export function conv2dForward(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; weight: Tensor; bias?: Tensor; output: Tensor },
  label: string,
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  if (t.bias) checkTensor(gpu, label, "bias", t.bias, g.outChannels);
  checkTensor(gpu, label, "output", t.output, outputCount(g), true);
  const op = `${label}: conv2d forward`;
  // The dense matrix has one output per (channel, pixel): a bias per channel stays with the direct kernels.
  if (!t.bias && denseApplies(g)) return denseForwardOp(gpu, g, t, op);
  if (useWinograd(gpu, g, "forward")) return winogradForwardOp(gpu, g, t, op);
  return forwardOp(gpu, g, t, op);
}

/**
 * The dispatches that overwrite `gradInput` with the gradient of the loss with respect to the input,
 * given `gradOutput`, the gradient with respect to the output.
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/device.ts";
 * import { submit, tensor } from "../gpu/kernel.ts";
 * import { conv2dBackwardData, conv2dGeometry } from "./conv2d.ts";
 * const gpu = await Gpu.create();
 * const g = conv2dGeometry([1, 3, 8, 8], {
 *   outChannels: 4, kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array(4 * 16).fill(1)), [1, 4, 4, 4]);
 * const weight = tensor(gpu.upload("w", new Float32Array(4 * 27).fill(0.5)), [4, 3, 3, 3]);
 * const gradInput = tensor(gpu.buffer("dx", 3 * 64 * 4), [1, 3, 8, 8]);
 * submit(gpu, conv2dBackwardData(gpu, g, { gradOutput, weight, gradInput }, "conv1"));
 * ```
 */
export function conv2dBackwardData(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  checkTensor(gpu, label, "gradInput", t.gradInput, inputCount(g), true);
  const op = `${label}: conv2d backward-data`;
  if (denseApplies(g)) return denseBackwardDataOp(gpu, g, t, op);
  if (useWinograd(gpu, g, "backwardData")) return winogradBackwardDataOp(gpu, g, t, op);
  return backwardDataOp(gpu, g, t, op);
}

/**
 * Overwrites gradWeight (and gradBias when given) with this batch's gradient. Large reductions are split
 * over private scratch buffers allocated here, once.
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/device.ts";
 * import { submit, tensor } from "../gpu/kernel.ts";
 * import { conv2dBackwardWeight, conv2dGeometry } from "./conv2d.ts";
 * const gpu = await Gpu.create();
 * const g = conv2dGeometry([2, 3, 8, 8], {
 *   outChannels: 4, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * const input = tensor(gpu.upload("x", new Float32Array(2 * 3 * 64).fill(1)), [2, 3, 8, 8]);
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array(2 * 4 * 64).fill(1)), [2, 4, 8, 8]);
 * const gradWeight = tensor(gpu.buffer("dw", 4 * 27 * 4), [4, 3, 3, 3]);
 * const gradBias = tensor(gpu.buffer("db", 4 * 4), [4]);
 * submit(gpu, conv2dBackwardWeight(gpu, g, { input, gradOutput, gradWeight, gradBias }, "conv1"));
 * ```
 */
export function conv2dBackwardWeight(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; gradOutput: Tensor; gradWeight: Tensor; gradBias?: Tensor },
  label: string,
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "gradWeight", t.gradWeight, weightCount(g));
  if (t.gradBias) checkTensor(gpu, label, "gradBias", t.gradBias, g.outChannels);
  const labels = { weight: `${label}: conv2d backward-weight`, bias: `${label}: conv2d bias gradient` };
  if (!denseApplies(g)) return backwardWeightOp(gpu, g, t, labels);
  return [
    ...denseBackwardWeightOp(gpu, g, t, labels.weight),
    ...backwardWeightOp(gpu, g, { input: t.input, gradOutput: t.gradOutput, gradBias: t.gradBias }, labels),
  ];
}

export { type ConvTuning, tuneConvolutions, type TuneOptions } from "./_conv_tune.ts";
export type { GemmKind, GemmTiling, MeasuredTiling } from "./_conv_strategy.ts";
