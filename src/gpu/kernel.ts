/**
 * Kernels and dispatches: the one mechanism every op uses to put work on the GPU.
 *
 * Conventions every shader in `shaders/` follows:
 * - `@group(0) @binding(0) var<uniform> p: Params;` holds the op's sizes (u32) and scalars (f32), packed
 *   in declaration order by {@linkcode params};
 * - storage buffers follow at bindings 1, 2, ... in the order the op passes them;
 * - a 1-D problem larger than 65535 workgroups is spread over x and y (see {@linkcode grid}); the shader
 *   computes its linear index as `gid.x + gid.y * nwg.x * WORKGROUP_SIZE` from
 *   `@builtin(global_invocation_id) gid` and `@builtin(num_workgroups) nwg`.
 *
 * @module
 */

import type { Gpu } from "./device.ts";

/** A float scalar for {@linkcode params}. */
export interface F32 {
  /** The value, stored as a 32-bit float. */
  readonly f32: number;
}

/** Marks `value` as an `f32` field for {@linkcode params}. */
export function f32(value: number): F32 {
  return { f32: value };
}

/** Packs uniform fields in order: plain numbers as `u32`, {@linkcode f32} values as `f32`. */
export function params(...fields: Array<number | F32>): Uint32Array {
  const words = new Uint32Array(Math.max(4, Math.ceil(fields.length / 4) * 4));
  const floats = new Float32Array(words.buffer);
  fields.forEach((field, i) => {
    if (typeof field === "number") {
      if (!Number.isInteger(field) || field < 0 || field > 0xffffffff) {
        throw new RangeError(`uniform field ${i} must be a u32, got ${field}`);
      }
      words[i] = field;
    } else {
      floats[i] = field.f32;
    }
  });
  return words;
}

/** A range of a GPU buffer viewed as a tensor of `shape` (float32 unless the op says otherwise). */
export interface Tensor {
  /** The buffer holding the values. */
  buffer: GPUBuffer;
  /** Byte offset into the buffer, a multiple of 256. */
  offset: number;
  /** Logical shape, PyTorch's order (NCHW for images). */
  shape: readonly number[];
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor over the whole of `buffer` (or from `offset`). */
export function tensor(buffer: GPUBuffer, shape: readonly number[], offset = 0): Tensor {
  return { buffer, offset, shape };
}

/** One compute dispatch, made once and encoded any number of times. */
export interface Dispatch {
  /** `"<layer>: <op>"`, shown in errors. */
  label: string;
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** Its bind group 0. */
  bindGroup: GPUBindGroup;
  /** Workgroup counts. */
  workgroups: readonly [number, number, number];
}

/** What {@linkcode kernel} needs to make a dispatch. */
export interface KernelSpec {
  /** `"<layer>: <op>"`. */
  label: string;
  /** WGSL source. */
  code: string;
  /** Entry point, `"main"` by default. */
  entryPoint?: string;
  /** WGSL `override` constants (tile sizes, workgroup size). */
  constants?: Record<string, number>;
  /** Uniform fields from {@linkcode params}, bound at binding 0; omit if the shader has none. */
  uniforms?: Uint32Array;
  /** Storage buffers at bindings 1, 2, ... (or from 0 when there are no uniforms). */
  tensors: Array<Tensor | GPUBuffer>;
  /** Workgroup counts, e.g. from {@linkcode grid}. */
  workgroups: readonly [number, number, number];
}

function binding(resource: Tensor | GPUBuffer): GPUBufferBinding {
  if (resource instanceof GPUBuffer) return { buffer: resource };
  const size = numel(resource.shape) * 4;
  return { buffer: resource.buffer, offset: resource.offset, size: Math.max(4, size) };
}

/** Makes a dispatch: pipeline (cached), uniform buffer and bind group, all once. */
export function kernel(gpu: Gpu, spec: KernelSpec): Dispatch {
  const pipeline = gpu.pipeline(spec.code, spec.entryPoint, spec.constants);
  const entries: GPUBindGroupEntry[] = [];
  if (spec.uniforms) {
    entries.push({ binding: 0, resource: { buffer: gpu.uniform(`${spec.label} params`, spec.uniforms) } });
  }
  const first = spec.uniforms ? 1 : 0;
  spec.tensors.forEach((t, i) => entries.push({ binding: first + i, resource: binding(t) }));
  const bindGroup = gpu.device.createBindGroup({
    label: spec.label,
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  for (const n of spec.workgroups) {
    if (n > gpu.limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(
        `${spec.label}: ${n} workgroups exceed this adapter's limit of ` +
          `${gpu.limits.maxComputeWorkgroupsPerDimension} per dimension`,
      );
    }
  }
  return { label: spec.label, pipeline, bindGroup, workgroups: spec.workgroups };
}

/**
 * Workgroup counts for `invocations` threads in workgroups of `workgroupSize`, spread over x and y so
 * that neither exceeds 65535.
 */
export function grid(invocations: number, workgroupSize: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroupSize));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/** Encodes `dispatches` in order into one compute pass of `encoder`. */
export function encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
}

/** Submits `dispatches` as one command buffer. */
export function submit(gpu: Gpu, dispatches: readonly Dispatch[]): void {
  const encoder = gpu.device.createCommandEncoder();
  encode(encoder, dispatches);
  gpu.device.queue.submit([encoder.finish()]);
}
