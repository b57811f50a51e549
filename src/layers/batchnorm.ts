/**
 * `nn.BatchNorm2d` with PyTorch's semantics, in eval and train mode, with an optional fused ReLU, and the
 * backward of train mode.
 *
 * Train mode and backward reduce over each channel's `batch * spatial` values in two dispatches: partial
 * sums per (channel, slice), then a pass in which every workgroup combines its channel's partial sums and
 * works on its slice. Slicing keeps a large batch spread over many workgroups; capping the slices at one
 * workgroup's size lets the second pass combine them without a dispatch of its own.
 *
 * @module
 */

import common from "../../shaders/batchnorm_common.wgsl" with { type: "text" };
import evalShader from "../../shaders/batchnorm_eval.wgsl" with { type: "text" };
import trainShader from "../../shaders/batchnorm_train.wgsl" with { type: "text" };
import backwardShader from "../../shaders/batchnorm_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, f32, grid, kernel, numel, params, type Tensor } from "../gpu/kernel.ts";

const trainCode = common + trainShader;
const backwardCode = common + backwardShader;

const WORKGROUP_SIZE = 256;
/** Values per invocation a slice holds at least, so that small channels are not split into slivers. */
const MIN_VALUES_PER_INVOCATION = 16;

/** Sizes of a batch-norm input, NCHW viewed as `[batch, channels, spatial]` with `spatial = H * W`. */
export interface BatchNormShape {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** H * W. */
  spatial: number;
}

interface Slicing {
  /** Values per slice, a multiple of the workgroup size. */
  length: number;
  /** Slices per channel, at most the workgroup size. */
  count: number;
}

function slicing(s: BatchNormShape): Slicing {
  const perChannel = s.batch * s.spatial;
  const perInvocation = Math.max(MIN_VALUES_PER_INVOCATION, Math.ceil(perChannel / WORKGROUP_SIZE ** 2));
  const length = perInvocation * WORKGROUP_SIZE;
  return { length, count: Math.ceil(perChannel / length) };
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
 * import { batchNormEval, Gpu, submit, tensor } from "@denogpu/resnet";
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
  return [kernel(gpu, {
    label: `${label}: batch norm (eval)`,
    code: evalShader,
    constants: { WG: WORKGROUP_SIZE, RELU: o.relu ? 1 : 0 },
    uniforms: params(count, s.spatial, s.channels, f32(o.eps)),
    tensors: [t.input, t.weight, t.bias, t.runningMean, t.runningVar, t.output],
    workgroups: grid(count, WORKGROUP_SIZE),
  })];
}

/**
 * Train mode, two dispatches: normalises with the batch mean and biased variance, then ReLU when `relu` is
 * true; updates `runningMean` and `runningVar` in place with `momentum` (the variance unbiased by
 * `n / (n - 1)`, n = batch * spatial); writes the batch mean and `1 / sqrt(var + eps)` to `savedMean` and
 * `savedInvStd` ([C]) for {@linkcode batchNormBackward}. Allocates a small scratch buffer of partial sums.
 *
 * @example
 * ```ts
 * import { batchNormTrain, Gpu, submit, tensor } from "@denogpu/resnet";
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
  const slices = slicing(s);
  const perChannel = s.batch * s.spatial;
  const partials = gpu.scratch(s.channels * slices.count * 8);
  const uniforms = params(
    s.channels,
    s.spatial,
    perChannel,
    slices.length,
    slices.count,
    f32(o.eps),
    f32(o.momentum),
    f32(perChannel / (perChannel - 1)),
  );
  const workgroups = [slices.count, s.channels, 1] as const;
  return [
    kernel(gpu, {
      label: `${label}: batch norm statistics`,
      code: trainCode,
      entryPoint: "partial_sums",
      constants: { WG: WORKGROUP_SIZE },
      uniforms,
      tensors: [t.input, partials],
      workgroups,
    }),
    kernel(gpu, {
      label: `${label}: batch norm (train)`,
      code: trainCode,
      entryPoint: "normalize_slice",
      constants: { WG: WORKGROUP_SIZE, RELU: o.relu ? 1 : 0 },
      uniforms,
      tensors: [
        t.input,
        partials,
        t.weight,
        t.bias,
        t.runningMean,
        t.runningVar,
        t.output,
        t.savedMean,
        t.savedInvStd,
      ],
      workgroups,
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
 * import { batchNormBackward, batchNormTrain, Gpu, submit, tensor } from "@denogpu/resnet";
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
  const slices = slicing(s);
  const partials = gpu.scratch(s.channels * slices.count * 8);
  // An absent gradient is bound to a placeholder: the pipeline is compiled without the writes to it.
  let placeholder: GPUBuffer | undefined;
  const orPlaceholder = (gradient?: Tensor) =>
    gradient ?? (placeholder ??= gpu.buffer(`${label} batch norm absent gradient`, 4));
  const uniforms = params(s.channels, s.spatial, s.batch * s.spatial, slices.length, slices.count);
  const relu = o.relu ? 1 : 0;
  return [
    kernel(gpu, {
      label: `${label}: batch norm backward statistics`,
      code: backwardCode,
      entryPoint: "partial_sums",
      constants: { WG: WORKGROUP_SIZE, RELU: relu },
      uniforms,
      tensors: [t.input, t.output, t.gradOutput, t.savedMean, partials],
      workgroups: [slices.count, s.channels, 1],
    }),
    kernel(gpu, {
      label: `${label}: batch norm backward`,
      code: backwardCode,
      entryPoint: "gradients",
      constants: {
        WG: WORKGROUP_SIZE,
        RELU: relu,
        WRITE_INPUT: t.gradInput ? 1 : 0,
        WRITE_WEIGHT: t.gradWeight ? 1 : 0,
        WRITE_BIAS: t.gradBias ? 1 : 0,
      },
      uniforms,
      tensors: [
        t.input,
        t.output,
        t.gradOutput,
        t.savedMean,
        partials,
        t.savedInvStd,
        t.weight,
        orPlaceholder(t.gradInput),
        orPlaceholder(t.gradWeight),
        orPlaceholder(t.gradBias),
      ],
      // Without gradInput only the per-channel sums remain: one workgroup per channel combines them.
      workgroups: [t.gradInput ? slices.count : 1, s.channels, 1],
    }),
  ];
}
