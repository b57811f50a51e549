/**
 * Pooling: `nn.MaxPool2d` (PyTorch's output size and indices, forward and backward) and
 * `nn.AdaptiveAvgPool2d(1)`, the global average pool before a ResNet's classifier.
 *
 * @module
 */

import maxShader from "../../shaders/pool_max.wgsl" with { type: "text" };
import averageShader from "../../shaders/pool_global_avg.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, numel, type Tensor } from "../gpu/kernel.ts";
import { vectorSource, vectorWidth } from "./_vector.ts";
import {
  axes,
  type Axis,
  formatPair,
  type Window2d,
  windowConstants,
  type WindowGeometry,
  windowGeometry,
  windowOutputShape,
} from "./_window.ts";
import { inputShapeError, type OpDefinition, twoTermGradient } from "./op.ts";

const WORKGROUP_SIZE = 256;
/** Invocations that sum one plane of the global average pool, when a workgroup sums it. */
const PLANE_WORKGROUP_SIZE = 64;
/** Invocations per workgroup of the global average pool's serial forward (one per plane). */
const SERIAL_WORKGROUP_SIZE = 64;
/** A plane of at most this many Vecs is summed by one invocation, without barriers. */
const SERIAL_PLANE_LIMIT = 1024;

/** Sizes of a 2-D max pool over an NCHW input (ceil_mode false); its padding never wins. */
export interface MaxPool2dGeometry extends WindowGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
}

/** Sizes of a global average pool: `planes` (N * C) runs of `spatial` (H * W) values. */
export interface GlobalAvgPoolShape {
  /** N * C. */
  planes: number;
  /** H * W. */
  spatial: number;
}

function checkPositive(name: string, values: readonly number[], minimum: number): void {
  if (values.some((v) => !Number.isInteger(v) || v < minimum)) {
    throw new Error(`MaxPool2d: ${name} must be integers >= ${minimum}, got [${values.join(", ")}]`);
  }
}

/** Whether some output window along axis `a` has every tap in the padding. */
function hasEmptyWindow(a: Axis): boolean {
  for (let o = 0; o < a.outSize; o++) {
    let inside = false;
    for (let k = 0; k < a.kernel && !inside; k++) {
      const position = o * a.stride - a.pad + k * a.dilation;
      inside = position >= 0 && position < a.inSize;
    }
    if (!inside) return true;
  }
  return false;
}

/**
 * The geometry of `nn.MaxPool2d(kernelSize, stride, padding, dilation)` (ceil_mode false) on an NCHW input:
 * PyTorch's output size and checks, with errors that say what is wrong.
 *
 * @example
 * ```ts
 * import { maxPool2dGeometry } from "@denogpu/resnet/ops";
 * // A ResNet stem's max pool:
 * const g = maxPool2dGeometry([8, 64, 112, 112], {
 *   kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1],
 * });
 * console.log(g.outHeight, g.outWidth); // 56 56
 * ```
 */
export function maxPool2dGeometry(input: readonly number[], o: Window2d): MaxPool2dGeometry {
  if (input.length !== 4) {
    throw new Error(`MaxPool2d: expected an NCHW input shape, got [${input.join(", ")}]`);
  }
  checkPositive("input sizes", input, 1);
  checkPositive("kernel sizes", o.kernelSize, 1);
  checkPositive("strides", o.stride, 1);
  checkPositive("dilations", o.dilation, 1);
  checkPositive("paddings", o.padding, 0);
  const [batch, channels, inHeight, inWidth] = input;
  const [kernelHeight, kernelWidth] = o.kernelSize;
  const [padHeight, padWidth] = o.padding;
  if (2 * padHeight > kernelHeight || 2 * padWidth > kernelWidth) {
    throw new Error(
      `MaxPool2d: padding should be at most half of the kernel size, got padding [${o.padding.join(", ")}] ` +
        `for kernel size [${o.kernelSize.join(", ")}]`,
    );
  }
  const g = { ...windowGeometry(inHeight, inWidth, o), batch, channels };
  if (g.outHeight < 1 || g.outWidth < 1) {
    throw new Error(
      `MaxPool2d: input size ${inHeight}x${inWidth} gives output size ${g.outHeight}x${g.outWidth}, ` +
        "which is too small",
    );
  }
  if (axes(g).some(hasEmptyWindow)) {
    throw new Error(
      `MaxPool2d: with input size ${inHeight}x${inWidth}, padding [${o.padding.join(", ")}] and dilation ` +
        `[${o.dilation.join(", ")}], a window lies entirely in the padding`,
    );
  }
  return g;
}

function checkElements(label: string, tensors: Record<string, Tensor>, counts: Record<string, number>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (numel(t.shape) !== counts[name]) {
      throw new Error(`${label}: ${name} has ${numel(t.shape)} elements, expected ${counts[name]}`);
    }
  }
}

/** The override constants of `g`: sizes fix the index arithmetic, whose divisions then compile away. */
function maxPoolConstants(g: MaxPool2dGeometry): Record<string, number> {
  return {
    WG: WORKGROUP_SIZE,
    PLANES: g.batch * g.channels,
    ...windowConstants(g),
  };
}

/**
 * Max pool forward. `indices` is a u32 tensor shaped like `output`: the index of each maximum within its
 * H*W input plane, as PyTorch's `return_indices` (the first maximum on ties).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { maxPool2dForward, maxPool2dGeometry, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const g = maxPool2dGeometry([1, 1, 2, 2], {
 *   kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1],
 * });
 * const input = tensor(gpu.upload("x", new Float32Array([1, 4, 3, 2])), [1, 1, 2, 2]);
 * const output = tensor(gpu.buffer("y", 4), [1, 1, 1, 1]);
 * const indices = tensor(gpu.buffer("argmax", 4), [1, 1, 1, 1]);
 * submit(gpu, maxPool2dForward(gpu, g, { input, output, indices }, "maxpool"));
 * console.log(await gpu.readFloats(output.buffer, 0, 1)); // [4]
 * ```
 */
export function maxPool2dForward(
  gpu: Gpu,
  g: MaxPool2dGeometry,
  t: { input: Tensor; output: Tensor; indices: Tensor },
  label: string,
): Dispatch[] {
  const planes = g.batch * g.channels;
  const outputs = planes * g.outHeight * g.outWidth;
  checkElements(label, t, { input: planes * g.inHeight * g.inWidth, output: outputs, indices: outputs });
  return [kernel(gpu, {
    label: `${label}: max pool`,
    code: maxShader,
    entryPoint: "forward",
    constants: maxPoolConstants(g),
    bindings: { input: t.input, output: t.output, indices: t.indices },
    workgroups: grid(outputs, WORKGROUP_SIZE),
  })];
}

/**
 * Max pool backward: each output's gradient goes to the input its index names, gradients of overlapping
 * windows summed (each input gathers its own, so no atomics). `gradInput` is overwritten. The output's
 * gradient is `gradOutput` (or `o.gradSplits` partial sums of it one after another, added as read), plus
 * `gradExtra` when given (a second term, or `o.extraSplits` partial sums of it, also added as read).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { maxPool2dBackward, maxPool2dGeometry, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const g = maxPool2dGeometry([1, 1, 2, 2], {
 *   kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1],
 * });
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array([7])), [1, 1, 1, 1]);
 * const indices = tensor(gpu.upload("argmax", new Uint32Array([1])), [1, 1, 1, 1]);
 * const gradInput = tensor(gpu.buffer("dx", 16), [1, 1, 2, 2]);
 * submit(gpu, maxPool2dBackward(gpu, g, { gradOutput, indices, gradInput }, "maxpool"));
 * console.log(await gpu.readFloats(gradInput.buffer, 0, 4)); // [0, 7, 0, 0]
 * ```
 *
 * @throws {Error} Naming `label` when a tensor's element count does not match `g`.
 */
export function maxPool2dBackward(
  gpu: Gpu,
  g: MaxPool2dGeometry,
  t: { gradOutput: Tensor; indices: Tensor; gradInput: Tensor; gradExtra?: Tensor },
  label: string,
  o: { gradSplits?: number; extraSplits?: number } = {},
): Dispatch[] {
  const planes = g.batch * g.channels;
  const outputs = planes * g.outHeight * g.outWidth;
  const inputs = planes * g.inHeight * g.inWidth;
  const splits = o.gradSplits ?? 1;
  const extraSplits = o.extraSplits ?? 1;
  const { gradExtra, ...tensors } = t;
  checkElements(label, tensors, { gradOutput: splits * outputs, indices: outputs, gradInput: inputs });
  if (gradExtra) checkElements(label, { gradExtra }, { gradExtra: extraSplits * outputs });
  return [kernel(gpu, {
    label: `${label}: max pool backward`,
    code: maxShader,
    entryPoint: "backward",
    constants: {
      ...maxPoolConstants(g),
      GRAD_SPLITS: splits,
      SPLIT_LENGTH: outputs,
      EXTRA: gradExtra ? 1 : 0,
      EXTRA_SPLITS: extraSplits,
    },
    // An absent second term is never read: grad_output stands in.
    bindings: {
      gradOutput: t.gradOutput,
      argmax: t.indices,
      gradInput: t.gradInput,
      gradExtra: gradExtra ?? t.gradOutput,
    },
    workgroups: grid(inputs, WORKGROUP_SIZE),
  })];
}

/** The global average pool's shader with `Vec` defined as one value or four. */
function averageCode(width: 1 | 4): string {
  return compose(vectorSource(width), averageShader);
}

/**
 * `AdaptiveAvgPool2d(1)`: `[planes, spatial]` (an NCHW tensor with planes = N * C, spatial = H * W) to
 * `[planes]`: one invocation per plane for small planes (a ResNet's last feature map), one workgroup per
 * plane for large ones.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { globalAvgPoolForward, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const input = tensor(gpu.upload("x", new Float32Array([1, 2, 3, 4, 5, 6])), [2, 3]);
 * const output = tensor(gpu.buffer("y", 8), [2]);
 * submit(gpu, globalAvgPoolForward(gpu, { planes: 2, spatial: 3 }, { input, output }, "avgpool"));
 * console.log(await gpu.readFloats(output.buffer, 0, 2)); // [2, 5]
 * ```
 */
export function globalAvgPoolForward(
  gpu: Gpu,
  s: GlobalAvgPoolShape,
  t: { input: Tensor; output: Tensor },
  label: string,
): Dispatch[] {
  checkElements(label, t, { input: s.planes * s.spatial, output: s.planes });
  const width = vectorWidth(s.spatial);
  const spatial = s.spatial / width;
  const serial = spatial <= SERIAL_PLANE_LIMIT;
  return [kernel(gpu, {
    label: `${label}: global average pool`,
    code: averageCode(width),
    entryPoint: serial ? "forward_serial" : "forward_workgroup",
    constants: { WG: serial ? SERIAL_WORKGROUP_SIZE : PLANE_WORKGROUP_SIZE },
    uniforms: { planes: s.planes, spatial },
    bindings: { input: t.input, output: t.output },
    workgroups: serial
      ? grid(s.planes, SERIAL_WORKGROUP_SIZE)
      : grid(s.planes * PLANE_WORKGROUP_SIZE, PLANE_WORKGROUP_SIZE),
  })];
}

/**
 * Backward of {@linkcode globalAvgPoolForward}: `gradInput[plane, i] = gradOutput[plane] / spatial`.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { globalAvgPoolBackward, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array([4])), [1]);
 * const gradInput = tensor(gpu.buffer("dx", 16), [1, 4]);
 * submit(gpu, globalAvgPoolBackward(gpu, { planes: 1, spatial: 4 }, { gradOutput, gradInput }, "avgpool"));
 * console.log(await gpu.readFloats(gradInput.buffer, 0, 4)); // [1, 1, 1, 1]
 * ```
 *
 * @throws {Error} Naming `label` when a tensor's element count does not match `s`.
 */
export function globalAvgPoolBackward(
  gpu: Gpu,
  s: GlobalAvgPoolShape,
  t: { gradOutput: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  checkElements(label, t, { gradOutput: s.planes, gradInput: s.planes * s.spatial });
  const width = vectorWidth(s.spatial);
  const spatial = s.spatial / width;
  return [kernel(gpu, {
    label: `${label}: global average pool backward`,
    code: averageCode(width),
    entryPoint: "backward",
    constants: { WG: WORKGROUP_SIZE },
    uniforms: { planes: s.planes, spatial },
    bindings: { gradOutput: t.gradOutput, gradInput: t.gradInput },
    workgroups: grid(s.planes * spatial, WORKGROUP_SIZE),
  })];
}

/** A `nn.MaxPool2d` node of a traced graph (ceil_mode false). */
export interface MaxPool2dSpec extends Window2d {
  /** The kind. */
  kind: "maxpool2d";
}

/** `nn.MaxPool2d` as a layer kind; the forward pass saves the arg-max indices for backward. */
export const maxPool2dOp: OpDefinition<MaxPool2dSpec> = {
  kind: "maxpool2d",
  typeName: "MaxPool2d",
  inferShape(name, spec, [x]) {
    if (x.length !== 3) throw inputShapeError(name, spec.kind, `[${x[0]}, H, W]`, x);
    const out = windowOutputShape(name, spec.kind, x, spec);
    if (spec.padding.some((p, axis) => p > spec.kernelSize[axis] / 2)) {
      throw new Error(
        `${name} (maxpool2d): padding ${formatPair(spec.padding)} must be at most half the kernel`,
      );
    }
    return [x[0], ...out];
  },
  forward(ctx) {
    const [input] = ctx.inputs;
    const geometry = maxPool2dGeometry(input.shape, ctx.spec);
    const output = ctx.output();
    const indices = ctx.tensor(ctx.outputShape, `${ctx.name} arg-max indices`);
    ctx.save(indices);
    ctx.op(ctx.label, { input, output, indices }, (t) => maxPool2dForward(ctx.gpu, geometry, t, ctx.name));
    return output;
  },
  backward(ctx) {
    const gradInput = ctx.gradInput(0);
    if (!gradInput) return;
    const geometry = maxPool2dGeometry(ctx.inputs[0].shape, ctx.spec);
    const { gradOutput, gradExtra, gradSplits, extraSplits } = twoTermGradient(ctx);
    const tensors = { gradOutput, gradExtra, indices: ctx.saved[0], gradInput };
    const splits = { gradSplits, extraSplits };
    ctx.op(ctx.label, tensors, (t) => maxPool2dBackward(ctx.gpu, geometry, t, ctx.name, splits));
    ctx.accumulate(0, gradInput);
  },
};

/** A `nn.AdaptiveAvgPool2d(1)` node of a traced graph. */
export interface AdaptiveAvgPool2dSpec {
  /** The kind. */
  kind: "adaptiveavgpool2d";
}

/** The planes and plane size of an NCHW step tensor. */
function planesOf(t: { shape: readonly number[] }): GlobalAvgPoolShape {
  return { planes: t.shape[0] * t.shape[1], spatial: t.shape[2] * t.shape[3] };
}

/** `nn.AdaptiveAvgPool2d(1)` as a layer kind. */
export const adaptiveAvgPool2dOp: OpDefinition<AdaptiveAvgPool2dSpec> = {
  kind: "adaptiveavgpool2d",
  typeName: "AdaptiveAvgPool2d",
  inferShape(name, spec, [x]) {
    if (x.length !== 3) throw inputShapeError(name, spec.kind, "[C, H, W]", x);
    return [x[0], 1, 1];
  },
  forward(ctx) {
    const [input] = ctx.inputs;
    const s = planesOf(input);
    const output = ctx.output();
    ctx.op(ctx.label, { input, output }, (t) => globalAvgPoolForward(ctx.gpu, s, t, ctx.name));
    return output;
  },
  backward(ctx) {
    const gradInput = ctx.gradInput(0);
    if (!gradInput) return;
    const s = planesOf(gradInput);
    const tensors = { gradOutput: ctx.gradOutput, gradInput };
    ctx.op(ctx.label, tensors, (t) => globalAvgPoolBackward(ctx.gpu, s, t, ctx.name));
    ctx.accumulate(0, gradInput);
  },
};
