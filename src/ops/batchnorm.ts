/**
 * `nn.BatchNorm2d` with PyTorch's semantics, in eval and train mode, and the backward of train mode; each
 * with an optional residual input added after the normalisation and an optional ReLU after that, which the
 * compiler's rewrites fuse into it (a ResNet block's `bn2`, `+= identity` and ReLU are one op).
 *
 * Train mode and its backward reduce each channel's `batch * spatial` values to two sums and then apply
 * per-channel coefficients to every value. A channel of up to {@linkcode CHANNEL_LIMIT} Vecs is done by one
 * workgroup in one dispatch (`channel_pass`): the sums, the statistics and the apply, the second read of
 * the channel coming from cache. Larger channels take three dispatches: workgroups sum slices of each
 * channel, one invocation per channel combines them, and workgroups apply the coefficients per slice.
 * Planes whose size is a multiple of 4 are read as `vec4f`.
 *
 * @module
 */

import common from "../../shaders/batchnorm_common.wgsl" with { type: "text" };
import evalShader from "../../shaders/batchnorm_eval.wgsl" with { type: "text" };
import trainShader from "../../shaders/batchnorm_train.wgsl" with { type: "text" };
import elementwise from "../../shaders/batchnorm_elementwise.wgsl" with { type: "text" };
import backwardShader from "../../shaders/batchnorm_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, numel, type Tensor, usedBindings } from "../gpu/kernel.ts";
import { vectorSource, vectorWidth } from "./_vector.ts";
import { declareScratch, opScratch, type Scratch, scratchOf, scratchPart } from "./_scratch.ts";
import {
  type BackwardContext,
  formatShape,
  type ForwardContext,
  inputShapeError,
  type OpDefinition,
  type StepTensor,
  twoTermGradient,
} from "./op.ts";

/** Workgroup size of eval mode's elementwise pass and of the sliced passes. */
const WORKGROUP_SIZE = 256;
/** Workgroup size of `finalize`, one invocation per channel. */
const FINALIZE_WORKGROUP_SIZE = 64;
/** Vecs each invocation of eval mode's elementwise pass handles (at least; fewer for small tensors). */
const VECS_PER_INVOCATION = 4;
/**
 * The most Vecs of a channel that one workgroup handles in one dispatch: 512 KiB, which a core's cache
 * keeps between the two reads. Beyond it a channel is split over workgroups, which a GPU with fewer
 * channels than cores otherwise leaves idle.
 */
export const CHANNEL_LIMIT = 32768;
/** Vecs per invocation that `channel_pass` aims at when choosing its workgroup size. */
const CHANNEL_VECS_PER_INVOCATION = 8;
/** Slices per channel at most, so that combining them serially stays short. */
const MAX_SLICES = 64;
/** Vecs each invocation of a sliced pass reads at least, so the barriers stay few per load. */
const MIN_VECS_PER_INVOCATION = 8;

/** Sizes of a batch-norm input, NCHW viewed as `[batch, channels, spatial]` with `spatial = H * W`. */
export interface BatchNormShape {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** H * W. */
  spatial: number;
}

/** How a channel's sums are made and applied; lengths in Vecs (`width` values each). */
interface ChannelPlan {
  /** Values per Vec: 4 when a plane's size is a multiple of 4, else 1. */
  width: 1 | 4;
  /** `channel`: one workgroup per channel, one dispatch; `sliced`: workgroups per slice, three. */
  strategy: "channel" | "sliced";
  /** Vecs per plane. */
  spatial: number;
  /** Vecs per channel. */
  perChannel: number;
  /** Vecs per slice (the whole channel in one). */
  sliceLength: number;
  /** Slices per channel (1 for `channel`). */
  slices: number;
  /** Invocations per workgroup, a power of two. */
  workgroupSize: number;
}

/** Chooses how to reduce and apply each channel from the sizes alone. */
function channelPlan(s: BatchNormShape): ChannelPlan {
  const width = vectorWidth(s.spatial);
  const spatial = s.spatial / width;
  const perChannel = s.batch * spatial;
  const plan = { width, spatial, perChannel } as const;
  if (perChannel <= CHANNEL_LIMIT) {
    const wanted = Math.ceil(perChannel / CHANNEL_VECS_PER_INVOCATION);
    const workgroupSize = Math.min(WORKGROUP_SIZE, Math.max(32, 2 ** Math.ceil(Math.log2(wanted))));
    return { ...plan, strategy: "channel", sliceLength: perChannel, slices: 1, workgroupSize };
  }
  const perInvocation = Math.max(
    MIN_VECS_PER_INVOCATION,
    Math.ceil(perChannel / (WORKGROUP_SIZE * MAX_SLICES)),
  );
  const sliceLength = perInvocation * WORKGROUP_SIZE;
  return {
    ...plan,
    strategy: "sliced",
    sliceLength,
    slices: Math.ceil(perChannel / sliceLength),
    workgroupSize: WORKGROUP_SIZE,
  };
}

/**
 * An elementwise pass over the NCHW tensor of `s`: `shader` (after the prelude and
 * batchnorm_elementwise.wgsl) defines `apply(i, c)`.
 */
function elementwiseDispatch(
  gpu: Gpu,
  s: BatchNormShape,
  spec: {
    label: string;
    shader: string;
    constants: Record<string, number>;
    eps?: number;
    bindings: Record<string, Tensor | GPUBuffer>;
  },
): Dispatch {
  const width = vectorWidth(s.spatial);
  const spatial = s.spatial / width;
  const count = s.batch * s.channels * spatial;
  const workgroups = grid(Math.ceil(count / VECS_PER_INVOCATION), WORKGROUP_SIZE);
  const stride = workgroups[0] * workgroups[1] * WORKGROUP_SIZE;
  return kernel(gpu, {
    label: spec.label,
    code: compose(vectorSource(width), elementwise, spec.shader),
    constants: { WG: WORKGROUP_SIZE, ...spec.constants },
    uniforms: {
      count,
      spatial,
      channels: s.channels,
      stride,
      strideSpatial: stride % spatial,
      strideChannels: Math.floor(stride / spatial) % s.channels,
      eps: spec.eps ?? 0,
    },
    bindings: spec.bindings,
    workgroups,
  });
}

/**
 * The dispatches of a train-mode pass (forward or backward, as `shader` says) over the channels of `plan`:
 * `channel_pass`, or `slice_sums`, `finalize` and `slice_apply`. Each entry point gets the part of
 * `bindings` it uses.
 */
function channelDispatches(
  gpu: Gpu,
  plan: ChannelPlan,
  shader: string,
  spec: {
    label: string;
    constants: Record<string, number>;
    bindings: Record<string, Tensor | GPUBuffer>;
    uniforms?: Record<string, number>;
    channels: number;
    apply: boolean;
  },
): Dispatch[] {
  const code = compose(vectorSource(plan.width), common, shader);
  const constants = { ...spec.constants, WG: plan.workgroupSize, FINALIZE_WG: FINALIZE_WORKGROUP_SIZE };
  const uniforms = {
    channels: spec.channels,
    spatial: plan.spatial,
    perChannel: plan.perChannel,
    sliceLength: plan.sliceLength,
    slices: plan.slices,
    ...spec.uniforms,
  };
  const pass = (label: string, entryPoint: string, workgroups: readonly [number, number, number]) => {
    const bindings = usedBindings(gpu, code, entryPoint, label, spec.bindings);
    return kernel(gpu, { label, code, entryPoint, constants, uniforms, bindings, workgroups });
  };
  if (plan.strategy === "channel") return [pass(spec.label, "channel_pass", [spec.channels, 1, 1])];
  const sliced: [number, number, number] = [plan.slices, spec.channels, 1];
  return [
    pass(`${spec.label} statistics`, "slice_sums", sliced),
    pass(`${spec.label} statistics combine`, "finalize", grid(spec.channels, FINALIZE_WORKGROUP_SIZE)),
    ...(spec.apply ? [pass(spec.label, "slice_apply", sliced)] : []),
  ];
}

/** Small buffers that stand in for absent tensors: one read-only, one written, never both in one binding. */
function placeholders(gpu: Gpu, label: string) {
  let read: GPUBuffer | undefined;
  let written: GPUBuffer | undefined;
  return {
    read: (t?: Tensor) => t ?? (read ??= gpu.buffer(`${label} batch norm absent input`, 16)),
    written: (t?: Tensor) => t ?? (written ??= gpu.buffer(`${label} batch norm absent output`, 16)),
  };
}

/**
 * The scratch {@linkcode batchNormTrain} and {@linkcode batchNormBackward} need for `s`, as bytes per part:
 * the slices' partial sums and the per-channel coefficients for channels split into slices, none for
 * channels that one workgroup does whole.
 *
 * @example
 * ```ts
 * import { batchNormScratchParts } from "@denogpu/resnet/ops";
 * console.log(batchNormScratchParts({ batch: 2, channels: 64, spatial: 16 * 16 }).length); // 0
 * console.log(batchNormScratchParts({ batch: 64, channels: 64, spatial: 112 * 112 }).length); // 2
 * ```
 */
export function batchNormScratchParts(s: BatchNormShape): number[] {
  const plan = channelPlan(s);
  return plan.strategy === "channel" ? [] : [s.channels * plan.slices * 8, s.channels * 16];
}

/** The partial sums and coefficients of a sliced batch norm op: `given`, or private buffers. */
function slicedScratch(
  gpu: Gpu,
  s: BatchNormShape,
  given: Scratch | undefined,
  label: string,
): { partials?: Tensor; coefficients?: Tensor } {
  const parts = batchNormScratchParts(s);
  if (parts.length === 0) return {};
  const scratch = opScratch(gpu, given, parts, `${label}: batch norm`);
  return { partials: scratchPart(scratch, 0, label), coefficients: scratchPart(scratch, 1, label) };
}

function checkShape(label: string, s: BatchNormShape, training: boolean): void {
  const sizes = { batch: s.batch, channels: s.channels, spatial: s.spatial };
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${label}: batch norm ${name} must be a positive integer, got ${value}`);
    }
  }
  if (training && s.batch * s.spatial < 2) {
    throw new Error(
      `${label}: batch norm in train mode needs more than 1 value per channel, ` +
        `got input [${s.batch}, ${s.channels}, ${s.spatial}]`,
    );
  }
}

function checkElements(label: string, tensors: Record<string, Tensor | undefined>, count: number): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t && numel(t.shape) !== count) {
      throw new Error(`${label}: batch norm ${name} has ${numel(t.shape)} elements, expected ${count}`);
    }
  }
}

/**
 * Eval mode: `y = relu?((x - running_mean) / sqrt(running_var + eps) * weight + bias + residual?)`, one
 * dispatch.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { batchNormEval, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const s = { batch: 1, channels: 2, spatial: 2 };
 * const vector = (name: string, values: number[]) => tensor(gpu.upload(name, new Float32Array(values)), [2]);
 * const input = tensor(gpu.upload("x", new Float32Array([1, 2, 3, 4])), [1, 2, 2]);
 * const output = tensor(gpu.buffer("y", 16), [1, 2, 2]);
 * submit(gpu, batchNormEval(gpu, s, {
 *   input, output, weight: vector("w", [1, 2]), bias: vector("b", [0, 0]),
 *   runningMean: vector("m", [0, 3]), runningVar: vector("v", [1, 1]),
 * }, { eps: 0, relu: true }, "bn1"));
 * console.log(await gpu.readFloats(output.buffer, 0, 4)); // [1, 2, 0, 2]
 * ```
 */
export function batchNormEval(
  gpu: Gpu,
  s: BatchNormShape,
  t: {
    input: Tensor;
    weight: Tensor;
    bias: Tensor;
    runningMean: Tensor;
    runningVar: Tensor;
    output: Tensor;
    residual?: Tensor;
  },
  o: { eps: number; relu: boolean },
  label: string,
): Dispatch[] {
  checkShape(label, s, false);
  const count = s.batch * s.channels * s.spatial;
  checkElements(label, { input: t.input, output: t.output, residual: t.residual }, count);
  checkElements(label, {
    weight: t.weight,
    bias: t.bias,
    runningMean: t.runningMean,
    runningVar: t.runningVar,
  }, s.channels);
  return [elementwiseDispatch(gpu, s, {
    label: `${label}: batch norm (eval)`,
    shader: evalShader,
    constants: { RELU: o.relu ? 1 : 0, RESIDUAL: t.residual ? 1 : 0 },
    eps: o.eps,
    bindings: { ...t, residual: placeholders(gpu, label).read(t.residual) },
  })];
}

/**
 * Train mode: normalises with the batch mean and biased variance, adds `residual` when given, then applies
 * ReLU when `relu` is true; updates `runningMean` and `runningVar` in place with `momentum` (the variance
 * unbiased by `n / (n - 1)`, n = batch * spatial); writes the batch mean and `1 / sqrt(var + eps)` to
 * `savedMean` and `savedInvStd` ([C]) for {@linkcode batchNormBackward}. One dispatch for channels of up to
 * {@linkcode CHANNEL_LIMIT} Vecs, else three, whose partial sums and per-channel coefficients go to
 * `t.scratch` ({@linkcode batchNormScratchParts}), or to small private buffers made here.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { batchNormTrain, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, channels: 1, spatial: 2 };
 * const one = (name: string, value: number) => tensor(gpu.upload(name, new Float32Array([value])), [1]);
 * const input = tensor(gpu.upload("x", new Float32Array([1, 2, 3, 4])), [2, 1, 2]);
 * const output = tensor(gpu.buffer("y", 16), [2, 1, 2]);
 * submit(gpu, batchNormTrain(gpu, s, {
 *   input, output, weight: one("w", 1), bias: one("b", 0), runningMean: one("m", 0), runningVar: one("v", 1),
 *   savedMean: one("mean", 0), savedInvStd: one("invstd", 0),
 * }, { eps: 1e-5, momentum: 0.1, relu: false }, "bn1"));
 * console.log(await gpu.readFloats(output.buffer, 0, 4)); // about [-1.342, -0.447, 0.447, 1.342]
 * ```
 */
export function batchNormTrain(
  gpu: Gpu,
  s: BatchNormShape,
  t: {
    input: Tensor;
    weight: Tensor;
    bias: Tensor;
    runningMean: Tensor;
    runningVar: Tensor;
    output: Tensor;
    savedMean: Tensor;
    savedInvStd: Tensor;
    residual?: Tensor;
    scratch?: Scratch;
  },
  o: { eps: number; momentum: number; relu: boolean },
  label: string,
): Dispatch[] {
  checkShape(label, s, true);
  const count = s.batch * s.channels * s.spatial;
  checkElements(label, { input: t.input, output: t.output, residual: t.residual }, count);
  checkElements(label, {
    weight: t.weight,
    bias: t.bias,
    runningMean: t.runningMean,
    runningVar: t.runningVar,
    savedMean: t.savedMean,
    savedInvStd: t.savedInvStd,
  }, s.channels);
  const plan = channelPlan(s);
  const values = s.batch * s.spatial;
  const { scratch: _, ...tensors } = t;
  return channelDispatches(gpu, plan, trainShader, {
    label: `${label}: batch norm (train)`,
    uniforms: { eps: o.eps, momentum: o.momentum, unbias: values / (values - 1) },
    constants: { RELU: o.relu ? 1 : 0, RESIDUAL: t.residual ? 1 : 0 },
    bindings: {
      ...tensors,
      ...slicedScratch(gpu, s, t.scratch, label),
      residual: placeholders(gpu, label).read(t.residual),
    },
    channels: s.channels,
    apply: true,
  });
}

/**
 * Backward of {@linkcode batchNormTrain}. The output's gradient is `gradOutput`, plus `gradExtra` when given
 * (a second gradient of the same output, summed here rather than in a pass of its own); with `relu` it is
 * masked where `output` is not positive. With `o.gradSplits` (default 1), `gradOutput` holds that many
 * partial sums of its term one after another (a split-K convolution's, see `conv2dBackwardData`), added
 * here; the gradient then overwrites the first of them. Likewise `gradExtra` holds `o.extraSplits` partial
 * sums of its term. With `o.writeResidual`, that (summed, masked)
 * gradient overwrites `gradOutput`: it is the gradient of the forward's residual input, and writing it in
 * place keeps the fused pass within 10 storage buffers. Each of `gradInput`, `gradWeight` and `gradBias` is
 * computed only when given (frozen parameters get none) and is overwritten, not accumulated. One dispatch,
 * or three for channels over {@linkcode CHANNEL_LIMIT} Vecs.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { batchNormBackward, batchNormTrain, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, channels: 1, spatial: 2 };
 * const upload = (name: string, values: number[], shape: number[]) =>
 *   tensor(gpu.upload(name, new Float32Array(values)), shape);
 * const input = upload("x", [1, 2, 3, 4], [2, 1, 2]);
 * const output = upload("y", [0, 0, 0, 0], [2, 1, 2]);
 * const weight = upload("w", [1], [1]), gradWeight = upload("dw", [0], [1]);
 * const savedMean = upload("mean", [0], [1]), savedInvStd = upload("invstd", [0], [1]);
 * submit(gpu, [
 *   ...batchNormTrain(gpu, s, {
 *     input, output, weight, bias: upload("b", [0], [1]), runningMean: upload("m", [0], [1]),
 *     runningVar: upload("v", [1], [1]), savedMean, savedInvStd,
 *   }, { eps: 1e-5, momentum: 0.1, relu: false }, "bn1"),
 *   // d sum(y * [1, 0, 0, 0]) / d weight, bias frozen and the input needing no gradient:
 *   ...batchNormBackward(gpu, s, {
 *     input, output, gradOutput: upload("dy", [1, 0, 0, 0], [2, 1, 2]),
 *     weight, savedMean, savedInvStd, gradWeight,
 *   }, { relu: false }, "bn1"),
 * ]);
 * console.log(await gpu.readFloats(gradWeight.buffer, 0, 1)); // about [-1.342]
 * ```
 */
export function batchNormBackward(
  gpu: Gpu,
  s: BatchNormShape,
  t: {
    input: Tensor;
    output: Tensor;
    gradOutput: Tensor;
    weight: Tensor;
    savedMean: Tensor;
    savedInvStd: Tensor;
    gradExtra?: Tensor;
    gradInput?: Tensor;
    gradWeight?: Tensor;
    gradBias?: Tensor;
    scratch?: Scratch;
  },
  o: { relu: boolean; writeResidual?: boolean; gradSplits?: number; extraSplits?: number },
  label: string,
): Dispatch[] {
  checkShape(label, s, true);
  const count = s.batch * s.channels * s.spatial;
  const splits = o.gradSplits ?? 1;
  const extraSplits = o.extraSplits ?? 1;
  checkElements(label, { gradOutput: t.gradOutput }, splits * count);
  checkElements(label, { gradExtra: t.gradExtra }, extraSplits * count);
  checkElements(label, { input: t.input, output: t.output, gradInput: t.gradInput }, count);
  checkElements(label, {
    weight: t.weight,
    savedMean: t.savedMean,
    savedInvStd: t.savedInvStd,
    gradWeight: t.gradWeight,
    gradBias: t.gradBias,
  }, s.channels);
  const writeResidual = o.writeResidual ?? false;
  if (!t.gradInput && !writeResidual && !t.gradWeight && !t.gradBias) return [];
  const plan = channelPlan(s);
  const absent = placeholders(gpu, label);
  const { scratch: _, ...tensors } = t;
  return channelDispatches(gpu, plan, backwardShader, {
    label: `${label}: batch norm backward`,
    constants: {
      RELU: o.relu ? 1 : 0,
      EXTRA: t.gradExtra ? 1 : 0,
      WRITE_WEIGHT: t.gradWeight ? 1 : 0,
      WRITE_BIAS: t.gradBias ? 1 : 0,
      WRITE_INPUT: t.gradInput ? 1 : 0,
      WRITE_RESIDUAL: writeResidual ? 1 : 0,
      GRAD_SPLITS: splits,
      EXTRA_SPLITS: extraSplits,
      SPLIT_VECS: count / plan.width,
    },
    bindings: {
      ...tensors,
      ...slicedScratch(gpu, s, t.scratch, label),
      gradExtra: absent.read(t.gradExtra),
      gradInput: absent.written(t.gradInput),
      gradWeight: absent.written(t.gradWeight),
      gradBias: absent.written(t.gradBias),
    },
    channels: s.channels,
    apply: Boolean(t.gradInput) || writeResidual,
  });
}

/** A `nn.BatchNorm2d` node of a traced graph. */
export interface BatchNorm2dSpec {
  /** The kind. */
  kind: "batchnorm2d";
  /** Channels (C). */
  numFeatures: number;
  /** Added to the variance before its square root. */
  eps: number;
  /** Weight of the batch statistics in the running ones. */
  momentum: number;
  /**
   * Whether the node's second input is added to the result (a residual add fused into this op by the
   * compiler's rewrites).
   */
  residual?: boolean;
  /** Whether a ReLU follows (after the residual), fused into this op by the compiler's rewrites. */
  relu?: boolean;
}

/** The NCHW tensor `t` viewed as batch-norm sizes. */
function batchNormShape(t: StepTensor): BatchNormShape {
  return { batch: t.shape[0], channels: t.shape[1], spatial: t.shape[2] * t.shape[3] };
}

function lowerBatchNormForward(ctx: ForwardContext<BatchNorm2dSpec>): StepTensor {
  const { spec, name, gpu } = ctx;
  const [input, residual] = ctx.inputs;
  const output = ctx.output();
  const s = batchNormShape(output);
  const relu = spec.relu ?? false;
  const tensors = {
    input,
    residual,
    weight: ctx.parameter("weight")!,
    bias: ctx.parameter("bias")!,
    runningMean: ctx.parameter("running_mean")!,
    runningVar: ctx.parameter("running_var")!,
    output,
  };
  if (ctx.mode === "eval") {
    ctx.op(ctx.label, tensors, (t) => batchNormEval(gpu, s, t, { eps: spec.eps, relu }, name));
    return output;
  }
  const savedMean = ctx.tensor([s.channels], `${name} batch mean`);
  const savedInvStd = ctx.tensor([s.channels], `${name} batch inverse std`);
  ctx.save(savedMean, savedInvStd);
  const options = { eps: spec.eps, momentum: spec.momentum, relu };
  ctx.op(
    ctx.label,
    { ...tensors, savedMean, savedInvStd, ...declareScratch(ctx, batchNormScratchParts(s), ctx.label) },
    (t) => batchNormTrain(gpu, s, { ...t, scratch: scratchOf(t) }, options, name),
  );
  return output;
}

function lowerBatchNormBackward(ctx: BackwardContext<BatchNorm2dSpec>): void {
  const [input] = ctx.inputs;
  const relu = ctx.spec.relu ?? false;
  const [savedMean, savedInvStd] = ctx.saved;
  const { gradOutput, gradExtra, gradSplits, extraSplits } = twoTermGradient(ctx);
  const gradInput = ctx.gradInput(0);
  // The residual's gradient is the output's (masked), written over gradOutput, which only this op reads.
  const writeResidual = ctx.spec.residual === true && ctx.gradInput(1) !== undefined;
  const tensors = {
    input,
    // Read only for a fused ReLU's mask; otherwise the input stands in, so the output need not live
    // until backward.
    output: relu ? ctx.output : input,
    gradOutput,
    gradExtra,
    weight: ctx.parameter("weight")!,
    savedMean,
    savedInvStd,
    gradInput,
    gradWeight: ctx.gradient("weight"),
    gradBias: ctx.gradient("bias"),
  };
  const s = batchNormShape(ctx.output);
  const needed = gradInput || writeResidual || tensors.gradWeight || tensors.gradBias;
  const scratch = declareScratch(ctx, needed ? batchNormScratchParts(s) : [], ctx.label);
  ctx.op(
    ctx.label,
    { ...tensors, ...scratch },
    (t) =>
      batchNormBackward(
        ctx.gpu,
        s,
        { ...t, scratch: scratchOf(t) },
        { relu, writeResidual, gradSplits, extraSplits },
        ctx.name,
      ),
  );
  if (gradInput) ctx.accumulate(0, gradInput);
  if (writeResidual) ctx.accumulate(1, gradSplits > 1 ? ctx.firstSplit(gradOutput) : gradOutput);
}

/** `nn.BatchNorm2d` as a layer kind, with an optional fused residual add and ReLU. */
export const batchNorm2dOp: OpDefinition<BatchNorm2dSpec> = {
  kind: "batchnorm2d",
  typeName: "BatchNorm2d",
  inferShape(name, spec, inputs) {
    const [x, residual] = inputs;
    if (x.length !== 3 || x[0] !== spec.numFeatures) {
      throw inputShapeError(name, spec.kind, `[${spec.numFeatures}, H, W]`, x);
    }
    const expected = spec.residual ? 2 : 1;
    if (inputs.length !== expected) {
      throw new Error(`${name} (${spec.kind}): expected ${expected} input(s), got ${inputs.length}`);
    }
    if (residual && residual.join() !== x.join()) {
      throw inputShapeError(name, `${spec.kind} residual`, formatShape(x), residual);
    }
    return [...x];
  },
  forward: lowerBatchNormForward,
  backward: lowerBatchNormBackward,
};
