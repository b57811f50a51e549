/**
 * 2-D convolution (PyTorch's `nn.Conv2d`): forward, backward-data and backward-weight, each an implicit
 * GEMM in WGSL (no im2col buffer), tiled in registers or workgroup memory as {@link ./_conv_strategy.ts}
 * chooses from the {@linkcode ConvTuning} passed in ({@linkcode tuneConvolutions} measures one). The 3x3 stride-1
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
import { type ConvTuning, UNTUNED } from "./_conv_strategy.ts";
import { denseApplies, denseBackwardDataOp, denseBackwardWeightOp, denseForwardOp } from "./_conv_dense.ts";
import type { Conv2dGeometry, Conv2dOptions } from "./_conv_geometry.ts";
import { windowGeometry, windowOutputShape } from "./_window.ts";
import { inputShapeError, type OpDefinition } from "./op.ts";

export type { Conv2dGeometry, Conv2dOptions } from "./_conv_geometry.ts";
export type { Window2d, WindowGeometry } from "./_window.ts";

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
 * import { conv2dGeometry } from "@denogpu/resnet/ops";
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
  const window = windowGeometry(inHeight, inWidth, options);
  const { outHeight, outWidth } = window;
  if (outHeight < 1 || outWidth < 1) {
    throw new RangeError(
      `conv2d: a ${inHeight}x${inWidth} input is too small for kernel [${kernelSize}], padding [${padding}] ` +
        `and dilation [${dilation}] (output would be ${outHeight}x${outWidth})`,
    );
  }
  return { ...window, batch, inChannels, outChannels, groups };
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
 * The dispatches that compute `output = conv2d(input, weight) + bias` (bias optional, `[outChannels]`),
 * with the kernels `tuning` chooses (default: untuned).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { conv2dForward, conv2dGeometry } from "@denogpu/resnet/ops";
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
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  if (t.bias) checkTensor(gpu, label, "bias", t.bias, g.outChannels);
  checkTensor(gpu, label, "output", t.output, outputCount(g), true);
  const op = `${label}: conv2d forward`;
  // The dense matrix has one output per (channel, pixel): a bias per channel stays with the direct kernels.
  if (!t.bias && denseApplies(g)) return denseForwardOp(gpu, g, t, op, tuning);
  if (useWinograd(gpu, tuning, g, "forward")) return winogradForwardOp(gpu, g, t, op, tuning);
  return forwardOp(gpu, g, t, op, tuning);
}

/**
 * The dispatches that overwrite `gradInput` with the gradient of the loss with respect to the input,
 * given `gradOutput`, the gradient with respect to the output; `tuning` as for {@linkcode conv2dForward}.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { conv2dBackwardData, conv2dGeometry } from "@denogpu/resnet/ops";
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
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  checkTensor(gpu, label, "gradInput", t.gradInput, inputCount(g), true);
  const op = `${label}: conv2d backward-data`;
  if (denseApplies(g)) return denseBackwardDataOp(gpu, g, t, op, tuning);
  if (useWinograd(gpu, tuning, g, "backwardData")) return winogradBackwardDataOp(gpu, g, t, op, tuning);
  return backwardDataOp(gpu, g, t, op, tuning);
}

/**
 * Overwrites gradWeight (and gradBias when given) with this batch's gradient. Large reductions are split
 * over private scratch buffers allocated here, once; `tuning` as for {@linkcode conv2dForward}.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { conv2dBackwardWeight, conv2dGeometry } from "@denogpu/resnet/ops";
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
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "gradWeight", t.gradWeight, weightCount(g));
  if (t.gradBias) checkTensor(gpu, label, "gradBias", t.gradBias, g.outChannels);
  const labels = { weight: `${label}: conv2d backward-weight`, bias: `${label}: conv2d bias gradient` };
  if (!denseApplies(g)) return backwardWeightOp(gpu, g, t, labels, tuning);
  const bias = { input: t.input, gradOutput: t.gradOutput, gradBias: t.gradBias };
  return [
    ...denseBackwardWeightOp(gpu, g, t, labels.weight, tuning),
    ...backwardWeightOp(gpu, g, bias, labels, tuning),
  ];
}

/** A `nn.Conv2d` node of a traced graph. */
export interface Conv2dSpec extends Conv2dOptions {
  /** The kind. */
  kind: "conv2d";
  /** Input channels. */
  inChannels: number;
  /** Whether the layer adds a bias. */
  bias: boolean;
}

/** `nn.Conv2d` as a layer kind. */
export const conv2dOp: OpDefinition<Conv2dSpec> = {
  kind: "conv2d",
  typeName: "Conv2d",
  inferShape(name, spec, [x]) {
    if (x.length !== 3 || x[0] !== spec.inChannels) {
      throw inputShapeError(name, spec.kind, `[${spec.inChannels}, H, W]`, x);
    }
    return [spec.outChannels, ...windowOutputShape(name, spec.kind, x, spec)];
  },
  forward(ctx) {
    const [input] = ctx.inputs;
    const geometry = conv2dGeometry(input.shape, ctx.spec);
    const output = ctx.output();
    const tensors = { input, weight: ctx.parameter("weight")!, bias: ctx.parameter("bias"), output };
    ctx.op(ctx.label, tensors, (t) => conv2dForward(ctx.gpu, geometry, t, ctx.name, ctx.tuning));
    return output;
  },
  backward(ctx) {
    const [input] = ctx.inputs;
    const { gradOutput, name } = ctx;
    const geometry = conv2dGeometry(input.shape, ctx.spec);
    const gradWeight = ctx.gradient("weight");
    const gradBias = ctx.gradient("bias");
    if (gradBias && !gradWeight) {
      throw new Error(`${name}: a frozen weight with a trainable bias is not supported`);
    }
    const gradInput = ctx.gradInput(0);
    if (gradWeight) {
      ctx.op(
        `${name}: conv2d backward-weight`,
        { input, gradOutput, gradWeight, gradBias },
        (t) => conv2dBackwardWeight(ctx.gpu, geometry, t, name, ctx.tuning),
      );
    }
    if (gradInput) {
      ctx.op(
        `${name}: conv2d backward-data`,
        { gradOutput, weight: ctx.parameter("weight")!, gradInput },
        (t) => conv2dBackwardData(ctx.gpu, geometry, t, name, ctx.tuning),
      );
      ctx.accumulate(0, gradInput);
    }
  },
  forwardFlops(spec, outputShape) {
    const outputs = outputShape.reduce((a, b) => a * b, 1);
    return 2 * outputs * (spec.inChannels / spec.groups) * spec.kernelSize[0] * spec.kernelSize[1];
  },
};

export { type MeasuredConvTuning, measuredOn, tuneConvolutions, type TuneOptions } from "./_conv_tune.ts";
export {
  type ConvTuning,
  fixedTiling,
  type GemmKind,
  type GemmTiling,
  type MeasuredTiling,
  UNTUNED,
} from "./_conv_strategy.ts";
