/**
 * Pooling: `nn.MaxPool2d` (PyTorch's output size and indices, forward and backward) and
 * `nn.AdaptiveAvgPool2d(1)`, the global average pool before a ResNet's classifier.
 *
 * @module
 */

import maxShader from "../../shaders/pool_max.wgsl" with { type: "text" };
import averageShader from "../../shaders/pool_global_avg.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, numel, params, type Tensor } from "../gpu/kernel.ts";

const WORKGROUP_SIZE = 256;
/** Invocations that sum one plane of the global average pool, when a workgroup sums it. */
const PLANE_WORKGROUP_SIZE = 64;
/** Invocations per workgroup of the global average pool's serial forward (one per plane). */
const SERIAL_WORKGROUP_SIZE = 64;
/** A plane of at most this many Vecs is summed by one invocation, without barriers. */
const SERIAL_PLANE_LIMIT = 1024;

/** Sizes of a 2-D max pool over an NCHW input (ceil_mode false). */
export interface MaxPool2dGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** Input H. */
  inHeight: number;
  /** Input W. */
  inWidth: number;
  /** Window height. */
  kernelHeight: number;
  /** Window width. */
  kernelWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Implicit padding above and below, which never wins. */
  padHeight: number;
  /** Implicit padding left and right, which never wins. */
  padWidth: number;
  /** Vertical spacing of window taps. */
  dilationHeight: number;
  /** Horizontal spacing of window taps. */
  dilationWidth: number;
  /** Output H. */
  outHeight: number;
  /** Output W. */
  outWidth: number;
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

/** Output length of one axis (PyTorch's `pooling_output_shape` with ceil_mode false). */
function outputLength(size: number, kernel: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Whether some output window along one axis has every tap in the padding. */
function hasEmptyWindow(
  size: number,
  kernel: number,
  stride: number,
  pad: number,
  dilation: number,
  outputs: number,
): boolean {
  for (let o = 0; o < outputs; o++) {
    let inside = false;
    for (let k = 0; k < kernel && !inside; k++) {
      const position = o * stride - pad + k * dilation;
      inside = position >= 0 && position < size;
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
 * import { maxPool2dGeometry } from "@denogpu/resnet";
 * // A ResNet stem's max pool:
 * const g = maxPool2dGeometry([8, 64, 112, 112], {
 *   kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1],
 * });
 * console.log(g.outHeight, g.outWidth); // 56 56
 * ```
 */
export function maxPool2dGeometry(
  input: readonly number[],
  o: {
    kernelSize: [number, number];
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
  },
): MaxPool2dGeometry {
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
  const [strideHeight, strideWidth] = o.stride;
  const [dilationHeight, dilationWidth] = o.dilation;
  const outHeight = outputLength(inHeight, kernelHeight, strideHeight, padHeight, dilationHeight);
  const outWidth = outputLength(inWidth, kernelWidth, strideWidth, padWidth, dilationWidth);
  if (outHeight < 1 || outWidth < 1) {
    throw new Error(
      `MaxPool2d: input size ${inHeight}x${inWidth} gives output size ${outHeight}x${outWidth}, ` +
        "which is too small",
    );
  }
  if (
    hasEmptyWindow(inHeight, kernelHeight, strideHeight, padHeight, dilationHeight, outHeight) ||
    hasEmptyWindow(inWidth, kernelWidth, strideWidth, padWidth, dilationWidth, outWidth)
  ) {
    throw new Error(
      `MaxPool2d: with input size ${inHeight}x${inWidth}, padding [${o.padding.join(", ")}] and dilation ` +
        `[${o.dilation.join(", ")}], a window lies entirely in the padding`,
    );
  }
  return {
    batch,
    channels,
    inHeight,
    inWidth,
    kernelHeight,
    kernelWidth,
    strideHeight,
    strideWidth,
    padHeight,
    padWidth,
    dilationHeight,
    dilationWidth,
    outHeight,
    outWidth,
  };
}

function checkElements(label: string, tensors: Record<string, Tensor>, counts: Record<string, number>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (numel(t.shape) !== counts[name]) {
      throw new Error(`${label}: ${name} has ${numel(t.shape)} elements, expected ${counts[name]}`);
    }
  }
}

function maxPoolUniforms(g: MaxPool2dGeometry): Uint32Array {
  return params(
    g.batch * g.channels,
    g.inHeight,
    g.inWidth,
    g.outHeight,
    g.outWidth,
    g.kernelHeight,
    g.kernelWidth,
    g.strideHeight,
    g.strideWidth,
    g.padHeight,
    g.padWidth,
    g.dilationHeight,
    g.dilationWidth,
  );
}

/**
 * Max pool forward. `indices` is a u32 tensor shaped like `output`: the index of each maximum within its
 * H*W input plane, as PyTorch's `return_indices` (the first maximum on ties).
 *
 * @example
 * ```ts
 * import { Gpu, maxPool2dForward, maxPool2dGeometry, submit, tensor } from "@denogpu/resnet";
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
    constants: { WG: WORKGROUP_SIZE },
    uniforms: maxPoolUniforms(g),
    tensors: [t.input, t.output, t.indices],
    workgroups: grid(outputs, WORKGROUP_SIZE),
  })];
}

/**
 * Max pool backward: each output's gradient goes to the input its index names, gradients of overlapping
 * windows summed (each input gathers its own, so no atomics). `gradInput` is overwritten.
 */
export function maxPool2dBackward(
  gpu: Gpu,
  g: MaxPool2dGeometry,
  t: { gradOutput: Tensor; indices: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  const planes = g.batch * g.channels;
  const outputs = planes * g.outHeight * g.outWidth;
  const inputs = planes * g.inHeight * g.inWidth;
  checkElements(label, t, { gradOutput: outputs, indices: outputs, gradInput: inputs });
  return [kernel(gpu, {
    label: `${label}: max pool backward`,
    code: maxShader,
    entryPoint: "backward",
    constants: { WG: WORKGROUP_SIZE },
    uniforms: maxPoolUniforms(g),
    tensors: [t.gradOutput, t.indices, t.gradInput],
    workgroups: grid(inputs, WORKGROUP_SIZE),
  })];
}

/** Values per Vec of the global average pool: 4 when a plane's size is a multiple of 4, else 1. */
function averageWidth(spatial: number): 1 | 4 {
  return spatial % 4 === 0 ? 4 : 1;
}

/** The global average pool's shader with `Vec` defined as one value or four. */
function averageCode(width: 1 | 4): string {
  const prelude = width === 4
    ? "alias Vec = vec4f;\nconst WIDTH = 4u;\nfn lanes_sum(v: Vec) -> f32 { return (v.x + v.y) + (v.z + v.w); }\n"
    : "alias Vec = f32;\nconst WIDTH = 1u;\nfn lanes_sum(v: Vec) -> f32 { return v; }\n";
  return prelude + averageShader;
}

/**
 * `AdaptiveAvgPool2d(1)`: `[planes, spatial]` (an NCHW tensor with planes = N * C, spatial = H * W) to
 * `[planes]`: one invocation per plane for small planes (a ResNet's last feature map), one workgroup per
 * plane for large ones.
 *
 * @example
 * ```ts
 * import { globalAvgPoolForward, Gpu, submit, tensor } from "@denogpu/resnet";
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
  const width = averageWidth(s.spatial);
  const spatial = s.spatial / width;
  const serial = spatial <= SERIAL_PLANE_LIMIT;
  return [kernel(gpu, {
    label: `${label}: global average pool`,
    code: averageCode(width),
    entryPoint: serial ? "forward_serial" : "forward_workgroup",
    constants: { WG: serial ? SERIAL_WORKGROUP_SIZE : PLANE_WORKGROUP_SIZE },
    uniforms: params(s.planes, spatial),
    tensors: [t.input, t.output],
    workgroups: serial
      ? grid(s.planes, SERIAL_WORKGROUP_SIZE)
      : grid(s.planes * PLANE_WORKGROUP_SIZE, PLANE_WORKGROUP_SIZE),
  })];
}

/** Backward of {@linkcode globalAvgPoolForward}: `gradInput[plane, i] = gradOutput[plane] / spatial`. */
export function globalAvgPoolBackward(
  gpu: Gpu,
  s: GlobalAvgPoolShape,
  t: { gradOutput: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  checkElements(label, t, { gradOutput: s.planes, gradInput: s.planes * s.spatial });
  const width = averageWidth(s.spatial);
  const spatial = s.spatial / width;
  return [kernel(gpu, {
    label: `${label}: global average pool backward`,
    code: averageCode(width),
    entryPoint: "backward",
    constants: { WG: WORKGROUP_SIZE },
    uniforms: params(s.planes, spatial),
    tensors: [t.gradOutput, t.gradInput],
    workgroups: grid(s.planes * spatial, WORKGROUP_SIZE),
  })];
}
