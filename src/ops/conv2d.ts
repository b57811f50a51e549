/**
 * 2-D convolution (PyTorch's `nn.Conv2d`): forward, backward-data and backward-weight, each an implicit
 * GEMM in WGSL (no im2col buffer), tiled in registers or workgroup memory as {@link ./_conv_strategy.ts}
 * chooses from the {@linkcode ConvTuning} passed in ({@linkcode tuneConvolutions} measures one). The 3x3
 * stride-1 convolutions run all three passes through Winograd F(2x2, 3x3) or F(4x4, 3x3)
 * ({@link ./_conv_winograd.ts}) where the autotune measured that faster. Float32, NCHW, weights
 * `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, numel, type Tensor } from "../gpu/kernel.ts";
import { backwardDataDispatches, checkTensor, dataSplits } from "./_conv_kernels.ts";
import {
  backwardDataOp,
  backwardDataOpParts,
  backwardWeightOp,
  backwardWeightOpParts,
  batchChunks,
  forwardOp,
} from "./_conv_chunks.ts";
import {
  useWinograd,
  winogradBackwardDataOp,
  winogradBackwardWeightOp,
  winogradForwardOp,
  winogradScratchParts,
} from "./_conv_winograd.ts";
import { type ConvTuning, UNTUNED } from "./_conv_strategy.ts";
import {
  denseApplies,
  denseBackwardDataOp,
  denseBackwardDataSplits,
  denseBackwardWeightOp,
  denseForwardOp,
  denseScratchParts,
  unrolledWeightShape,
} from "./_conv_dense.ts";
import { declareScratch, mergeParts, opScratch, type Scratch, scratchOf } from "./_scratch.ts";
import type { FoldedNorm } from "./_conv_epilogue.ts";
import type { Conv2dGeometry, Conv2dOptions } from "./_conv_geometry.ts";
import { windowGeometry, windowOutputShape } from "./_window.ts";
import { formatShape, inputShapeError, type OpDefinition } from "./op.ts";

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

/** The passes of a convolution. */
export type Conv2dPass = "forward" | "backwardData" | "backwardWeight";

/** How `pass` of `g` is computed: as a dense matrix, through Winograd, or by the direct GEMMs. */
function conv2dPath(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: Conv2dPass,
  tuning: ConvTuning,
): "dense" | "winograd" | "direct" {
  if (denseApplies(g)) return "dense";
  if (useWinograd(gpu, tuning, g, pass)) return "winograd";
  return "direct";
}

/**
 * Where `g` runs as a dense matrix (images so small that each output pixel reaches only part of the
 * kernel), the shape of its unrolled weight, else `undefined`. A tensor of this shape given to
 * {@linkcode conv2dForward} and then to {@linkcode conv2dBackwardData} as `unrolledWeight` carries the
 * matrix from one to the other, so backward-data does not unroll it again.
 *
 * @example
 * ```ts
 * import { type Conv2dOptions, conv2dGeometry, conv2dUnrolledWeightShape } from "@denogpu/resnet/ops";
 * const options: Omit<Conv2dOptions, "outChannels"> = {
 *   kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1,
 * };
 * const g = conv2dGeometry([8, 256, 2, 2], { outChannels: 256, ...options });
 * console.log(conv2dUnrolledWeightShape(g)); // [ 1024, 1024, 1, 1 ]
 * console.log(conv2dUnrolledWeightShape(conv2dGeometry([8, 64, 8, 8], { outChannels: 64, ...options }))); // undefined
 * ```
 */
export function conv2dUnrolledWeightShape(g: Conv2dGeometry): number[] | undefined {
  return denseApplies(g) ? unrolledWeightShape(g) : undefined;
}

/**
 * The scratch `pass` of `g` needs under `tuning`, as bytes per part, each bound on its own (an empty list or
 * parts of 0: none): split-K partial sums, Winograd transforms, an unrolled weight. `bias` says whether the
 * backward-weight pass also computes the bias gradient. The dispatch
 * builders take these parts as `t.scratch`, or make them.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { conv2dGeometry, conv2dScratchParts } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const g = conv2dGeometry([1, 3, 8, 8], {
 *   outChannels: 4, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * console.log(conv2dScratchParts(gpu, g, "forward")); // []
 * ```
 */
export function conv2dScratchParts(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: Conv2dPass,
  tuning: ConvTuning = UNTUNED,
  bias = false,
): number[] {
  const path = conv2dPath(gpu, g, pass, tuning);
  if (path !== "direct") {
    const parts = path === "dense"
      ? denseScratchParts(gpu, g, pass, tuning)
      : winogradScratchParts(gpu, g, pass, tuning);
    // The bias gradient runs after the weight gradient is made, over the same parts.
    if (pass !== "backwardWeight" || !bias) return parts;
    return mergeParts(parts, backwardWeightOpParts(gpu, g, { weight: false, bias }, tuning));
  }
  if (pass === "forward") return [];
  if (pass === "backwardData") return backwardDataOpParts(gpu, g, tuning);
  return backwardWeightOpParts(gpu, g, { weight: true, bias }, tuning);
}

/**
 * The dispatches that compute `output = conv2d(input, weight) + bias` (bias optional, `[outChannels]`),
 * with the kernels `tuning` chooses (default: untuned). In place of the bias, an eval-mode BatchNorm can be
 * applied to the result (`normWeight`, `normBias`, `runningMean`, `runningVar`, all `[outChannels]`, and
 * `o.normEps`), with BatchNorm's own float32 operations; then `residual` (the output's shape) is added
 * and ReLU applied (`o.relu`), in the same pass. Where the convolution runs as a dense matrix, its
 * unrolled weight is written to `unrolledWeight` when given (see {@linkcode conv2dUnrolledWeightShape}).
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
  t: {
    input: Tensor;
    weight: Tensor;
    bias?: Tensor;
    output: Tensor;
    scratch?: Scratch;
    normWeight?: Tensor;
    normBias?: Tensor;
    runningMean?: Tensor;
    runningVar?: Tensor;
    residual?: Tensor;
    unrolledWeight?: Tensor;
  },
  label: string,
  tuning: ConvTuning = UNTUNED,
  o: { normEps?: number; relu?: boolean } = {},
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  const perChannel = { bias: t.bias, ...normTensors(t) };
  for (const [name, tensor] of Object.entries(perChannel)) {
    if (tensor) checkTensor(gpu, label, name, tensor, g.outChannels);
  }
  checkTensor(gpu, label, "output", t.output, outputCount(g), true);
  if (t.residual) checkTensor(gpu, label, "residual", t.residual, outputCount(g), true);
  checkUnrolled(gpu, g, label, t.unrolledWeight);
  const op = `${label}: conv2d forward`;
  // The only scratch of a dense convolution's forward pass is for its unrolled weight.
  const parts = t.unrolledWeight ? [] : conv2dScratchParts(gpu, g, "forward", tuning);
  const scratch = opScratch(gpu, t.scratch, parts, op);
  const epilogue = {
    bias: t.bias,
    norm: foldedNorm(t, o.normEps, label),
    residual: t.residual,
    relu: o.relu,
  };
  const { input, weight, output } = t;
  const path = conv2dPath(gpu, g, "forward", tuning);
  if (path === "dense") {
    const { unrolledWeight } = t;
    return denseForwardOp(gpu, g, { input, weight, output, scratch, unrolledWeight }, epilogue, op, tuning);
  }
  if (path === "winograd") {
    return winogradForwardOp(gpu, g, { input, weight, output, epilogue }, op, tuning, { scratch });
  }
  return forwardOp(gpu, g, { input, weight, output }, epilogue, op, tuning);
}

/** Refuses an `unrolledWeight` where `g` does not run as a dense matrix, or one of the wrong size. */
function checkUnrolled(gpu: Gpu, g: Conv2dGeometry, label: string, unrolledWeight?: Tensor): void {
  if (!unrolledWeight) return;
  const shape = conv2dUnrolledWeightShape(g);
  if (!shape) {
    throw new Error(`${label}: unrolledWeight given, but this convolution does not run as a dense matrix`);
  }
  checkTensor(gpu, label, "unrolledWeight", unrolledWeight, numel(shape));
}

/** The BatchNorm tensors among `t`, by name. */
function normTensors(
  t: { normWeight?: Tensor; normBias?: Tensor; runningMean?: Tensor; runningVar?: Tensor },
): Record<string, Tensor | undefined> {
  return {
    normWeight: t.normWeight,
    normBias: t.normBias,
    runningMean: t.runningMean,
    runningVar: t.runningVar,
  };
}

/** The folded BatchNorm of `t`: none, or all four tensors and `eps`. */
function foldedNorm(
  t: { normWeight?: Tensor; normBias?: Tensor; runningMean?: Tensor; runningVar?: Tensor },
  eps: number | undefined,
  label: string,
): FoldedNorm | undefined {
  const given = Object.entries(normTensors(t)).filter(([, v]) => v);
  if (given.length === 0 && eps === undefined) return undefined;
  if (given.length !== 4 || eps === undefined) {
    throw new Error(
      `${label}: a folded BatchNorm needs normWeight, normBias, runningMean, runningVar and normEps, got ${
        [...given.map(([k]) => k), ...(eps === undefined ? [] : ["normEps"])].join(", ") || "none"
      }`,
    );
  }
  return {
    weight: t.normWeight!,
    bias: t.normBias!,
    runningMean: t.runningMean!,
    runningVar: t.runningVar!,
    eps,
  };
}

/**
 * The dispatches that overwrite `gradInput` with the gradient of the loss with respect to the input,
 * given `gradOutput`, the gradient with respect to the output; `tuning` as for {@linkcode conv2dForward}.
 * With `o.unsummed`, a split-K GEMM leaves its partial sums in `gradInput` instead of adding them, for a
 * reader that adds them as it reads (one dispatch fewer): `gradInput` then holds
 * {@linkcode conv2dBackwardDataSplits} partial sums of the gradient, one after another. `unrolledWeight` is
 * the unrolled weight that {@linkcode conv2dForward} wrote (see {@linkcode conv2dUnrolledWeightShape}),
 * read instead of unrolling the weight again.
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
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor; scratch?: Scratch; unrolledWeight?: Tensor },
  label: string,
  tuning: ConvTuning = UNTUNED,
  o: { unsummed?: boolean } = {},
): Dispatch[] {
  const splits = o.unsummed ? conv2dBackwardDataSplits(gpu, g, tuning) : 1;
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "weight", t.weight, weightCount(g));
  checkTensor(gpu, label, "gradInput", t.gradInput, splits * inputCount(g), splits === 1);
  checkUnrolled(gpu, g, label, t.unrolledWeight);
  const op = `${label}: conv2d backward-data`;
  const path = conv2dPath(gpu, g, "backwardData", tuning);
  if (path === "dense") return denseBackwardDataOp(gpu, g, t, op, tuning, { unsummed: splits > 1 });
  if (splits > 1) return backwardDataDispatches(gpu, g, t, op, tuning, { unsummed: true });
  const scratch = opScratch(gpu, t.scratch, conv2dScratchParts(gpu, g, "backwardData", tuning), op);
  if (path === "winograd") return winogradBackwardDataOp(gpu, g, t, op, tuning, { scratch });
  return backwardDataOp(gpu, g, { ...t, scratch }, op, tuning);
}

/**
 * The partial sums that {@linkcode conv2dBackwardData} leaves in `gradInput` with `unsummed` under
 * `tuning`: more than 1 where its GEMM is split over the output channels (the direct kernels, or the dense
 * matrix of tiny images, on a batch that fits one binding), else 1.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { conv2dBackwardDataSplits, conv2dGeometry } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const g = conv2dGeometry([1, 512, 4, 4], {
 *   outChannels: 512, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1,
 * });
 * console.log(conv2dBackwardDataSplits(gpu, g) > 1); // true: few pixels, a long reduction
 * ```
 */
export function conv2dBackwardDataSplits(gpu: Gpu, g: Conv2dGeometry, tuning: ConvTuning = UNTUNED): number {
  const path = conv2dPath(gpu, g, "backwardData", tuning);
  if (path === "dense") return denseBackwardDataSplits(gpu, g, tuning);
  if (path !== "direct") return 1;
  if (batchChunks(g, gpu.limits.maxStorageBufferBindingSize, "backward-data").length > 1) return 1;
  return dataSplits(gpu, g, tuning);
}

/**
 * Overwrites gradWeight (and gradBias when given) with this batch's gradient. Large reductions are split
 * over `t.scratch` ({@linkcode conv2dScratchParts}) or a private buffer made here; `tuning` as for
 * {@linkcode conv2dForward}. Entries of kernel taps that never meet the input (a 3x3 kernel over 1x1
 * pixels) are set to zero, by a fill pass where nothing else writes them, unless `t.deadTapsZeroed` says
 * that they already hold zero and nothing else writes them.
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
  t: {
    input: Tensor;
    gradOutput: Tensor;
    gradWeight: Tensor;
    gradBias?: Tensor;
    scratch?: Scratch;
    deadTapsZeroed?: boolean;
  },
  label: string,
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  checkTensor(gpu, label, "input", t.input, inputCount(g), true);
  checkTensor(gpu, label, "gradOutput", t.gradOutput, outputCount(g), true);
  checkTensor(gpu, label, "gradWeight", t.gradWeight, weightCount(g));
  if (t.gradBias) checkTensor(gpu, label, "gradBias", t.gradBias, g.outChannels);
  const labels = { weight: `${label}: conv2d backward-weight`, bias: `${label}: conv2d bias gradient` };
  const withBias = t.gradBias !== undefined;
  const parts = conv2dScratchParts(gpu, g, "backwardWeight", tuning, withBias);
  const scratch = opScratch(gpu, t.scratch, parts, labels.weight);
  const path = conv2dPath(gpu, g, "backwardWeight", tuning);
  if (path === "direct") return backwardWeightOp(gpu, g, { ...t, scratch }, labels, tuning);
  const bias = { input: t.input, gradOutput: t.gradOutput, gradBias: t.gradBias, scratch };
  return [
    ...path === "dense"
      ? denseBackwardWeightOp(gpu, g, { ...t, scratch }, labels.weight, tuning)
      : winogradBackwardWeightOp(gpu, g, t, labels.weight, tuning, { scratch }),
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
  /**
   * An eval-mode BatchNorm folded in by the compiler's rewrites (its parameters are the node's `norm_weight`,
   * `norm_bias`, `running_mean` and `running_var`); such a node has no backward.
   */
  norm?: { eps: number };
  /** Whether the node's second input is added after the BatchNorm (a fused residual add). */
  residual?: boolean;
  /** Whether a ReLU follows, fused in. */
  relu?: boolean;
}

/** `nn.Conv2d` as a layer kind, with an eval-mode BatchNorm, a residual add and a ReLU fused in optionally. */
export const conv2dOp: OpDefinition<Conv2dSpec> = {
  kind: "conv2d",
  typeName: "Conv2d",
  inferShape(name, spec, inputs) {
    const [x, residual] = inputs;
    if (x.length !== 3 || x[0] !== spec.inChannels) {
      throw inputShapeError(name, spec.kind, `[${spec.inChannels}, H, W]`, x);
    }
    const shape = [spec.outChannels, ...windowOutputShape(name, spec.kind, x, spec)];
    const expected = spec.residual ? 2 : 1;
    if (inputs.length !== expected) {
      throw new Error(`${name} (${spec.kind}): expected ${expected} input(s), got ${inputs.length}`);
    }
    if (residual && residual.join() !== shape.join()) {
      throw inputShapeError(name, `${spec.kind} residual`, formatShape(shape), residual);
    }
    return shape;
  },
  forward(ctx) {
    const [input, residual] = ctx.inputs;
    const geometry = conv2dGeometry(input.shape, ctx.spec);
    const output = ctx.output();
    // A dense convolution's unrolled weight is kept for backward-data, which would otherwise unroll it again.
    const unrolledShape = ctx.mode === "train" ? conv2dUnrolledWeightShape(geometry) : undefined;
    const unrolledWeight = unrolledShape && ctx.tensor(unrolledShape, `${ctx.name} unrolled weight`);
    if (unrolledWeight) ctx.save(unrolledWeight);
    const parts = unrolledWeight ? [] : conv2dScratchParts(ctx.gpu, geometry, "forward", ctx.tuning);
    const tensors = {
      input,
      residual,
      weight: ctx.parameter("weight")!,
      bias: ctx.parameter("bias"),
      normWeight: ctx.parameter("norm_weight"),
      normBias: ctx.parameter("norm_bias"),
      runningMean: ctx.parameter("running_mean"),
      runningVar: ctx.parameter("running_var"),
      output,
      unrolledWeight,
      ...declareScratch(ctx, parts, ctx.label),
    };
    const options = { normEps: ctx.spec.norm?.eps, relu: ctx.spec.relu };
    ctx.op(
      ctx.label,
      tensors,
      (t) => conv2dForward(ctx.gpu, geometry, { ...t, scratch: scratchOf(t) }, ctx.name, ctx.tuning, options),
    );
    return output;
  },
  backward(ctx) {
    if (ctx.spec.norm) {
      throw new Error(
        `${ctx.name}: a convolution with a folded BatchNorm has no backward (fold for inference only)`,
      );
    }
    const [input] = ctx.inputs;
    const { gradOutput, name } = ctx;
    const geometry = conv2dGeometry(input.shape, ctx.spec);
    const gradWeight = ctx.gradient("weight");
    const gradBias = ctx.gradient("bias");
    if (gradBias && !gradWeight) {
      throw new Error(`${name}: a frozen weight with a trainable bias is not supported`);
    }
    // The split-K partial sums of backward-data are left to the reader of the gradient to add.
    const splits = conv2dBackwardDataSplits(ctx.gpu, geometry, ctx.tuning);
    const gradInput = ctx.gradInput(0, splits);
    if (gradWeight) {
      const label = `${name}: conv2d backward-weight`;
      const parts = conv2dScratchParts(
        ctx.gpu,
        geometry,
        "backwardWeight",
        ctx.tuning,
        gradBias !== undefined,
      );
      ctx.op(
        label,
        { input, gradOutput, gradWeight, gradBias, ...declareScratch(ctx, parts, label) },
        // A parameter's gradient starts zeroed and only this op writes it, so dead taps stay zero.
        (t) =>
          conv2dBackwardWeight(
            ctx.gpu,
            geometry,
            { ...t, scratch: scratchOf(t), deadTapsZeroed: true },
            name,
            ctx.tuning,
          ),
      );
    }
    if (gradInput) {
      const label = `${name}: conv2d backward-data`;
      const [unrolledWeight] = ctx.saved;
      const parts = splits > 1 ? [] : conv2dScratchParts(ctx.gpu, geometry, "backwardData", ctx.tuning);
      // Part 0 of a dense convolution's scratch is for the unrolled weight, which the forward pass kept.
      if (unrolledWeight) parts[0] = 0;
      const tensors = { gradOutput, weight: ctx.parameter("weight")!, gradInput, unrolledWeight };
      ctx.op(
        label,
        { ...tensors, ...declareScratch(ctx, parts, label) },
        (t) =>
          conv2dBackwardData(ctx.gpu, geometry, { ...t, scratch: scratchOf(t) }, name, ctx.tuning, {
            unsummed: true,
          }),
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
export { defaultConvTuning } from "./_conv_defaults.ts";
export {
  type ConvTuning,
  fixedTiling,
  type GemmKind,
  type GemmTiling,
  type MeasuredTiling,
  UNTUNED,
} from "./_conv_strategy.ts";
