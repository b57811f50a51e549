/**
 * `nn.BatchNorm2d` with PyTorch's semantics, in eval and train mode, with an optional fused ReLU, and the
 * backward of train mode.
 *
 * Train mode and backward first reduce each channel's `batch * spatial` values to two sums, then apply an
 * elementwise pass with per-channel coefficients. How the sums are made depends on the per-channel count
 * (see `statisticsPlan`): one invocation per channel for small channels, so that neither barriers
 * nor a second dispatch are paid where a channel holds a few hundred values; one invocation per (channel,
 * slice) and then a per-channel combine for medium ones; coalesced workgroups with a tree reduction for
 * large ones. Planes whose size is a multiple of 4 are read as `vec4f`.
 *
 * @module
 */

import common from "../../shaders/batchnorm_common.wgsl" with { type: "text" };
import evalShader from "../../shaders/batchnorm_eval.wgsl" with { type: "text" };
import trainShader from "../../shaders/batchnorm_train.wgsl" with { type: "text" };
import elementwise from "../../shaders/batchnorm_elementwise.wgsl" with { type: "text" };
import normalizeShader from "../../shaders/batchnorm_normalize.wgsl" with { type: "text" };
import backwardShader from "../../shaders/batchnorm_backward.wgsl" with { type: "text" };
import gradInputShader from "../../shaders/batchnorm_grad_input.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, numel, type Tensor } from "../gpu/kernel.ts";
import { vectorSource, vectorWidth } from "./_vector.ts";
import { declareScratch, opScratch, type Scratch, scratchOf, scratchPart } from "./_scratch.ts";
import {
  type BackwardContext,
  type ForwardContext,
  inputShapeError,
  type OpDefinition,
  type StepTensor,
} from "./op.ts";

/** Workgroup size of the elementwise passes and of the tree-reducing statistics. */
const WORKGROUP_SIZE = 256;
/** Workgroup size of the passes with one invocation per channel or per (channel, slice). */
const SERIAL_WORKGROUP_SIZE = 64;
/** Vecs each invocation of an elementwise pass handles (at least; fewer for small tensors). */
const VECS_PER_INVOCATION = 4;
/** Vecs one invocation sums serially in a slice. */
const SERIAL_SLICE = 256;
/** A channel of at most this many Vecs is summed by one invocation, without a separate combine. */
const DIRECT_LIMIT = 2 * SERIAL_SLICE;
/** Slices per channel at most, so that combining them serially stays short. */
const MAX_SLICES = 64;
/** Vecs each invocation of a tree-reducing workgroup reads at least, so the barriers stay few per load. */
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

/** How a channel's sums are made; lengths in Vecs (`width` values each). */
interface StatisticsPlan {
  /** Values per Vec: 4 when a plane's size is a multiple of 4, else 1. */
  width: 1 | 4;
  /** `direct`: one invocation per channel; `serial`/`workgroup`: slices, then a combine. */
  strategy: "direct" | "serial" | "workgroup";
  /** Vecs per plane. */
  spatial: number;
  /** Vecs per channel. */
  perChannel: number;
  /** Vecs per slice. */
  sliceLength: number;
  /** Slices per channel (1 when direct). */
  slices: number;
}

/** Chooses how to reduce each channel from the sizes alone. */
function statisticsPlan(s: BatchNormShape): StatisticsPlan {
  const width = vectorWidth(s.spatial);
  const spatial = s.spatial / width;
  const perChannel = s.batch * spatial;
  const plan = { width, spatial, perChannel } as const;
  if (perChannel <= DIRECT_LIMIT) {
    return { ...plan, strategy: "direct", sliceLength: perChannel, slices: 1 };
  }
  if (perChannel <= SERIAL_SLICE * MAX_SLICES) {
    return {
      ...plan,
      strategy: "serial",
      sliceLength: SERIAL_SLICE,
      slices: Math.ceil(perChannel / SERIAL_SLICE),
    };
  }
  const perInvocation = Math.max(
    MIN_VECS_PER_INVOCATION,
    Math.ceil(perChannel / (WORKGROUP_SIZE * MAX_SLICES)),
  );
  const sliceLength = perInvocation * WORKGROUP_SIZE;
  return { ...plan, strategy: "workgroup", sliceLength, slices: Math.ceil(perChannel / sliceLength) };
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
    relu: boolean;
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
    constants: { WG: WORKGROUP_SIZE, RELU: spec.relu ? 1 : 0 },
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

/** The statistics dispatches: slice sums unless direct, then `finalize`, each with its bindings. */
function statisticsDispatches(
  gpu: Gpu,
  plan: StatisticsPlan,
  code: string,
  spec: {
    label: string;
    uniforms: Record<string, number>;
    constants: Record<string, number>;
    sliceBindings: Record<string, Tensor | GPUBuffer>;
    finalizeBindings: Record<string, Tensor | GPUBuffer>;
    channels: number;
  },
): Dispatch[] {
  const dispatches: Dispatch[] = [];
  const constants = { ...spec.constants, WG: WORKGROUP_SIZE, SERIAL_WG: SERIAL_WORKGROUP_SIZE };
  if (plan.strategy !== "direct") {
    const workgroup = plan.strategy === "workgroup";
    dispatches.push(kernel(gpu, {
      label: `${spec.label} statistics`,
      code,
      entryPoint: workgroup ? "slice_sums_workgroup" : "slice_sums_serial",
      constants,
      uniforms: spec.uniforms,
      bindings: spec.sliceBindings,
      workgroups: workgroup
        ? [plan.slices, spec.channels, 1]
        : grid(spec.channels * plan.slices, SERIAL_WORKGROUP_SIZE),
    }));
  }
  dispatches.push(kernel(gpu, {
    label: `${spec.label} statistics${plan.strategy === "direct" ? "" : " combine"}`,
    code,
    entryPoint: "finalize",
    constants: { ...constants, DIRECT: plan.strategy === "direct" ? 1 : 0 },
    uniforms: spec.uniforms,
    bindings: spec.finalizeBindings,
    workgroups: grid(spec.channels, SERIAL_WORKGROUP_SIZE),
  }));
  return dispatches;
}

/**
 * The scratch {@linkcode batchNormTrain} and {@linkcode batchNormBackward} need for `s`, as bytes per part:
 * the slices' partial sums, and the per-channel coefficients.
 *
 * @example
 * ```ts
 * import { batchNormScratchParts } from "@denogpu/resnet/ops";
 * console.log(batchNormScratchParts({ batch: 2, channels: 64, spatial: 16 * 16 }).length); // 2
 * ```
 */
export function batchNormScratchParts(s: BatchNormShape): number[] {
  return [s.channels * statisticsPlan(s).slices * 8, s.channels * 16];
}

/** The partial sums and coefficients of a batch norm op: `given`, or private buffers. */
function statisticsScratch(
  gpu: Gpu,
  s: BatchNormShape,
  given: Scratch | undefined,
  label: string,
): { partials: Tensor; coefficients: Tensor } {
  const scratch = opScratch(gpu, given, batchNormScratchParts(s), `${label}: batch norm`);
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
 * Eval mode: `y = relu?((x - running_mean) / sqrt(running_var + eps) * weight + bias)`, one dispatch.
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
  t: { input: Tensor; weight: Tensor; bias: Tensor; runningMean: Tensor; runningVar: Tensor; output: Tensor },
  o: { eps: number; relu: boolean },
  label: string,
): Dispatch[] {
  checkShape(label, s, false);
  const count = s.batch * s.channels * s.spatial;
  checkElements(label, { input: t.input, output: t.output }, count);
  checkElements(label, {
    weight: t.weight,
    bias: t.bias,
    runningMean: t.runningMean,
    runningVar: t.runningVar,
  }, s.channels);
  return [elementwiseDispatch(gpu, s, {
    label: `${label}: batch norm (eval)`,
    shader: evalShader,
    relu: o.relu,
    eps: o.eps,
    bindings: t,
  })];
}

/**
 * Train mode, two dispatches: normalises with the batch mean and biased variance, then ReLU when `relu` is
 * true; updates `runningMean` and `runningVar` in place with `momentum` (the variance unbiased by
 * `n / (n - 1)`, n = batch * spatial); writes the batch mean and `1 / sqrt(var + eps)` to `savedMean` and
 * `savedInvStd` ([C]) for {@linkcode batchNormBackward}. Its partial sums and per-channel coefficients go to
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
    scratch?: Scratch;
  },
  o: { eps: number; momentum: number; relu: boolean },
  label: string,
): Dispatch[] {
  checkShape(label, s, true);
  checkElements(label, { input: t.input, output: t.output }, s.batch * s.channels * s.spatial);
  checkElements(label, {
    weight: t.weight,
    bias: t.bias,
    runningMean: t.runningMean,
    runningVar: t.runningVar,
    savedMean: t.savedMean,
    savedInvStd: t.savedInvStd,
  }, s.channels);
  const plan = statisticsPlan(s);
  const values = s.batch * s.spatial;
  const { partials, coefficients } = statisticsScratch(gpu, s, t.scratch, label);
  const uniforms = {
    channels: s.channels,
    spatial: plan.spatial,
    perChannel: plan.perChannel,
    sliceLength: plan.sliceLength,
    slices: plan.slices,
    eps: o.eps,
    momentum: o.momentum,
    unbias: values / (values - 1),
  };
  return [
    ...statisticsDispatches(gpu, plan, compose(vectorSource(plan.width), common, trainShader), {
      label: `${label}: batch norm`,
      uniforms,
      constants: {},
      sliceBindings: { input: t.input, partials },
      finalizeBindings: {
        input: t.input,
        partials,
        weight: t.weight,
        bias: t.bias,
        runningMean: t.runningMean,
        runningVar: t.runningVar,
        savedMean: t.savedMean,
        savedInvStd: t.savedInvStd,
        coefficients,
      },
      channels: s.channels,
    }),
    elementwiseDispatch(gpu, s, {
      label: `${label}: batch norm (train)`,
      shader: normalizeShader,
      relu: o.relu,
      bindings: { input: t.input, coefficients, output: t.output },
    }),
  ];
}

/**
 * Backward of {@linkcode batchNormTrain} (and of its fused ReLU when `relu` is true: the gradient is masked
 * where `output` is not positive), two dispatches. Each of `gradInput`, `gradWeight` and `gradBias` is
 * computed only when given (frozen parameters get none) and is overwritten, not accumulated.
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
    gradInput?: Tensor;
    gradWeight?: Tensor;
    gradBias?: Tensor;
    scratch?: Scratch;
  },
  o: { relu: boolean },
  label: string,
): Dispatch[] {
  checkShape(label, s, true);
  checkElements(label, {
    input: t.input,
    output: t.output,
    gradOutput: t.gradOutput,
    gradInput: t.gradInput,
  }, s.batch * s.channels * s.spatial);
  checkElements(label, {
    weight: t.weight,
    savedMean: t.savedMean,
    savedInvStd: t.savedInvStd,
    gradWeight: t.gradWeight,
    gradBias: t.gradBias,
  }, s.channels);
  if (!t.gradInput && !t.gradWeight && !t.gradBias) return [];
  const plan = statisticsPlan(s);
  const { partials, coefficients } = statisticsScratch(gpu, s, t.scratch, label);
  // An absent gradient is bound to a placeholder: the pipeline is compiled without the writes to it.
  let placeholder: GPUBuffer | undefined;
  const orPlaceholder = (gradient?: Tensor) =>
    gradient ?? (placeholder ??= gpu.buffer(`${label} batch norm absent gradient`, 4));
  const relu = o.relu ? 1 : 0;
  const sliceBindings = {
    input: t.input,
    output: t.output,
    gradOutput: t.gradOutput,
    savedMean: t.savedMean,
    partials,
  };
  const dispatches = statisticsDispatches(
    gpu,
    plan,
    compose(vectorSource(plan.width), common, backwardShader),
    {
      label: `${label}: batch norm backward`,
      uniforms: {
        channels: s.channels,
        spatial: plan.spatial,
        perChannel: plan.perChannel,
        sliceLength: plan.sliceLength,
        slices: plan.slices,
      },
      constants: { RELU: relu, WRITE_WEIGHT: t.gradWeight ? 1 : 0, WRITE_BIAS: t.gradBias ? 1 : 0 },
      sliceBindings,
      finalizeBindings: {
        ...sliceBindings,
        savedInvStd: t.savedInvStd,
        weight: t.weight,
        gradWeight: orPlaceholder(t.gradWeight),
        gradBias: orPlaceholder(t.gradBias),
        coefficients,
      },
      channels: s.channels,
    },
  );
  if (!t.gradInput) return dispatches;
  return [
    ...dispatches,
    elementwiseDispatch(gpu, s, {
      label: `${label}: batch norm backward`,
      shader: gradInputShader,
      relu: o.relu,
      bindings: {
        input: t.input,
        output: t.output,
        gradOutput: t.gradOutput,
        coefficients,
        gradInput: t.gradInput,
      },
    }),
  ];
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
  /** Whether a ReLU follows, fused into this op by the compiler's rewrites. */
  relu?: boolean;
}

/** The NCHW tensor `t` viewed as batch-norm sizes. */
function batchNormShape(t: StepTensor): BatchNormShape {
  return { batch: t.shape[0], channels: t.shape[1], spatial: t.shape[2] * t.shape[3] };
}

function lowerBatchNormForward(ctx: ForwardContext<BatchNorm2dSpec>): StepTensor {
  const { spec, name, gpu } = ctx;
  const [input] = ctx.inputs;
  const output = ctx.output();
  const s = batchNormShape(output);
  const relu = spec.relu ?? false;
  const tensors = {
    input,
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
  const gradInput = ctx.gradInput(0);
  const tensors = {
    input,
    // Read only for a fused ReLU's mask; otherwise the input stands in, so the output need not live
    // until backward.
    output: relu ? ctx.output : input,
    gradOutput: ctx.gradOutput,
    weight: ctx.parameter("weight")!,
    savedMean,
    savedInvStd,
    gradInput,
    gradWeight: ctx.gradient("weight"),
    gradBias: ctx.gradient("bias"),
  };
  const s = batchNormShape(ctx.output);
  const needed = tensors.gradInput || tensors.gradWeight || tensors.gradBias;
  const scratch = declareScratch(ctx, needed ? batchNormScratchParts(s) : [], ctx.label);
  ctx.op(
    ctx.label,
    { ...tensors, ...scratch },
    (t) => batchNormBackward(ctx.gpu, s, { ...t, scratch: scratchOf(t) }, { relu }, ctx.name),
  );
  if (gradInput) ctx.accumulate(0, gradInput);
}

/** `nn.BatchNorm2d` as a layer kind, with an optional fused ReLU. */
export const batchNorm2dOp: OpDefinition<BatchNorm2dSpec> = {
  kind: "batchnorm2d",
  typeName: "BatchNorm2d",
  inferShape(name, spec, [x]) {
    if (x.length !== 3 || x[0] !== spec.numFeatures) {
      throw inputShapeError(name, spec.kind, `[${spec.numFeatures}, H, W]`, x);
    }
    return [...x];
  },
  forward: lowerBatchNormForward,
  backward: lowerBatchNormBackward,
};
