/**
 * Kernels and dispatches: the one mechanism every op uses to put work on the GPU.
 *
 * A shader is WGSL files of `shaders/` joined by {@linkcode compose}, nothing generated in TypeScript; a
 * file may call functions (hooks) that a later file defines. Its caller passes everything by name:
 * - `bindings`: the storage buffers, keyed by the camelCase of their WGSL names (`grad_output` is
 *   `gradOutput`); exactly those the entry point uses, or {@linkcode kernel} throws naming the kernel;
 * - `uniforms`: the fields of the struct of its one `var<uniform>`, by the same rule, each packed as the
 *   struct declares it (`u32`, `i32` or `f32`);
 * - `constants`: its WGSL `override`s.
 *
 * The rule for which: **override constants for shape specialisation and tiling (sizes that fix loop bounds
 * and index arithmetic, tile and workgroup sizes, flags that compile a code path out); uniforms for the
 * rest** (scalars such as eps, momentum or a clip norm, and sizes an op chooses not to specialise on). A new
 * override value compiles a new pipeline; a uniform costs a small buffer per dispatch. A variant that binds
 * other buffers is another entry point of the same file, since an entry point decides which bindings exist.
 *
 * A 1-D problem larger than 65535 workgroups is spread over x and y (see {@linkcode grid}); the shader
 * computes its linear index as `gid.x + gid.y * nwg.x * WORKGROUP_SIZE` from
 * `@builtin(global_invocation_id) gid` and `@builtin(num_workgroups) nwg`.
 *
 * @module
 */

import type { Gpu } from "./device.ts";
import type { EntryPointInterface, UniformField } from "./_wgsl.ts";

/**
 * The source of one shader: `parts` (WGSL files, each defining what the later ones use) joined in order.
 *
 * @example
 * ```ts
 * import { compose } from "@denogpu/resnet/ops";
 * const code = compose("alias Vec = vec4f;", "fn twice(v: Vec) -> Vec { return 2.0 * v; }");
 * console.log(code.split("\n").length); // 2
 * ```
 */
export function compose(...parts: string[]): string {
  return parts.join("\n");
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

/**
 * Number of elements of a shape.
 *
 * @example
 * ```ts
 * import { numel } from "@denogpu/resnet/ops";
 * console.log(numel([2, 3, 4]), numel([])); // 24 1
 * ```
 */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A tensor over the whole of `buffer` (or from `offset`).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const x = tensor(gpu.buffer("x", 4 * 6), [2, 3]); // { buffer, offset: 0, shape: [2, 3] }
 * ```
 */
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
  /** WGSL `override` constants: shapes the pipeline is specialised for, tiling and code-path flags. */
  constants?: Record<string, number>;
  /**
   * Every field of the uniform struct by camelCase name; required exactly when the entry point uses a
   * `var<uniform>`.
   */
  uniforms?: Record<string, number>;
  /**
   * The storage buffers by camelCase WGSL name: exactly those the entry point uses (an `undefined` entry
   * counts as absent, so that optional tensors pass straight through).
   */
  bindings: Record<string, Tensor | GPUBuffer | undefined>;
  /** Workgroup counts, e.g. from {@linkcode grid}. */
  workgroups: readonly [number, number, number];
}

function binding(resource: Tensor | GPUBuffer): GPUBufferBinding {
  if (resource instanceof GPUBuffer) return { buffer: resource };
  const size = numel(resource.shape) * 4;
  return { buffer: resource.buffer, offset: resource.offset, size: Math.max(4, size) };
}

/** The name a caller uses for a WGSL name: `grad_output` is `gradOutput`. */
function callerName(wgslName: string): string {
  return wgslName.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/**
 * The part of `all` (storage buffers by caller name) that `entryPoint` of `code` uses: for a shader whose
 * entry points share one set of bindings, so that each dispatch gets exactly its own.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { usedBindings } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const code = `
 * @group(0) @binding(0) var<storage, read_write> a: array<f32>;
 * @group(0) @binding(1) var<storage, read_write> b: array<f32>;
 * @compute @workgroup_size(1) fn only_a() { a[0] = 1.0; }`;
 * const both = { a: gpu.buffer("a", 4), b: gpu.buffer("b", 4) };
 * console.log(Object.keys(usedBindings(gpu, code, "only_a", "example", both))); // ["a"]
 * ```
 */
export function usedBindings<T>(
  gpu: Gpu,
  code: string,
  entryPoint: string,
  label: string,
  all: Record<string, T>,
): Record<string, T> {
  const names = gpu.entryPointInterface(code, entryPoint, label).storage.map((d) => callerName(d.name));
  return Object.fromEntries(names.map((name) => [name, all[name]]));
}

/** Throws, naming the kernel, unless `given` holds exactly the names `expected`. */
function checkNames(
  label: string,
  what: string,
  given: readonly string[],
  expected: readonly string[],
): void {
  const missing = expected.filter((name) => !given.includes(name));
  const unknown = given.filter((name) => !expected.includes(name));
  if (missing.length === 0 && unknown.length === 0) return;
  const problems = [
    ...(missing.length ? [`missing ${missing.join(", ")}`] : []),
    ...(unknown.length ? [`unknown ${unknown.join(", ")}`] : []),
  ];
  throw new Error(`${label}: ${what}: ${problems.join("; ")} (expected ${expected.join(", ") || "none"})`);
}

/** Whether a number can be stored in a uniform field of each scalar type, and how. */
const SCALARS = {
  u32: {
    fits: (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff,
    store: (view: DataView, at: number, v: number) => view.setUint32(at, v, true),
  },
  i32: {
    fits: (v: number) => Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff,
    store: (view: DataView, at: number, v: number) => view.setInt32(at, v, true),
  },
  f32: {
    fits: (v: number) => typeof v === "number",
    store: (view: DataView, at: number, v: number) => view.setFloat32(at, v, true),
  },
} as const;

/** `values` packed as the uniform struct `fields` lays them out: each a 4-byte scalar, in order. */
function packUniforms(
  label: string,
  fields: readonly UniformField[],
  values: Record<string, number>,
): Uint32Array {
  const names = fields.map((field) => callerName(field.name));
  checkNames(label, "uniforms", Object.keys(values), names);
  const words = new Uint32Array(Math.max(4, Math.ceil(fields.length / 4) * 4));
  const view = new DataView(words.buffer);
  fields.forEach((field, i) => {
    const value = values[names[i]];
    const scalar = SCALARS[field.type];
    if (!scalar.fits(value)) {
      throw new RangeError(`${label}: uniform ${names[i]}: ${value} does not fit ${field.type}`);
    }
    scalar.store(view, i * 4, value);
  });
  return words;
}

function uniformEntry(
  gpu: Gpu,
  spec: KernelSpec,
  uniform: EntryPointInterface["uniform"],
): GPUBindGroupEntry[] {
  if (!uniform) {
    if (spec.uniforms) throw new Error(`${spec.label}: uniforms given, but the entry point uses none`);
    return [];
  }
  if (!spec.uniforms) {
    throw new Error(
      `${spec.label}: uniforms missing (expected ${
        uniform.fields.map((f) => callerName(f.name)).join(", ")
      })`,
    );
  }
  const words = packUniforms(spec.label, uniform.fields, spec.uniforms);
  const buffer = gpu.uniform(`${spec.label} uniforms`, words);
  return [{ binding: uniform.declaration.binding, resource: { buffer } }];
}

/**
 * Makes a dispatch: pipeline (cached), uniform buffer and bind group, all once. A new pipeline is also
 * submitted once with no workgroups, which runs nothing: a driver that compiles at the first dispatch
 * compiles it then, on its own thread, while the caller goes on (a cold resnet18 step ready 1.2x sooner,
 * the cold autotune 1.3x, through Mesa's lavapipe).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { kernel, submit } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const code = `
 * struct Params { count: u32, factor: f32 }
 * @group(0) @binding(0) var<uniform> p: Params;
 * @group(0) @binding(1) var<storage, read> input: array<f32>;
 * @group(0) @binding(2) var<storage, read_write> scaled_output: array<f32>;
 * @compute @workgroup_size(64)
 * fn main(@builtin(global_invocation_id) gid: vec3u) {
 *   if (gid.x < p.count) { scaled_output[gid.x] = input[gid.x] * p.factor; }
 * }`;
 * const input = gpu.upload("input", new Float32Array([1, 2, 3]));
 * const output = gpu.buffer("output", 12);
 * submit(gpu, [kernel(gpu, {
 *   label: "example: scale",
 *   code,
 *   uniforms: { count: 3, factor: 2 },
 *   bindings: { input, scaledOutput: output },
 *   workgroups: [1, 1, 1],
 * })]);
 * console.log(await gpu.readFloats(output, 0, 3)); // [2, 4, 6]
 * ```
 *
 * @throws {Error} naming `spec.label` and the names expected when a binding or uniform field is missing
 * or unknown, or the entry point does not exist.
 */
export function kernel(gpu: Gpu, spec: KernelSpec): Dispatch {
  const entryPoint = spec.entryPoint ?? "main";
  const used = gpu.entryPointInterface(spec.code, entryPoint, spec.label);
  const names = used.storage.map((declaration) => callerName(declaration.name));
  const given = Object.keys(spec.bindings).filter((name) => spec.bindings[name] !== undefined);
  checkNames(spec.label, `bindings of ${entryPoint}`, given, names);
  const entries = [
    ...uniformEntry(gpu, spec, used.uniform),
    ...used.storage.map((declaration, i) => ({
      binding: declaration.binding,
      resource: binding(spec.bindings[names[i]]!),
    })),
  ];
  const pipelinesBefore = gpu.pipelineCount;
  const pipeline = gpu.pipeline(spec.code, entryPoint, spec.constants);
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
  const dispatch = { label: spec.label, pipeline, bindGroup, workgroups: spec.workgroups };
  // A driver that compiles a pipeline at its first dispatch (Mesa's lavapipe, on its queue's thread) starts
  // on a new one now, while the caller goes on creating the next; an empty dispatch runs no invocation.
  if (gpu.pipelineCount > pipelinesBefore) submit(gpu, [{ ...dispatch, workgroups: [0, 0, 0] }]);
  return dispatch;
}

/**
 * Workgroup counts for `invocations` threads in workgroups of `workgroupSize`, spread over x and y so
 * that neither exceeds 65535.
 *
 * @example
 * ```ts
 * import { grid } from "@denogpu/resnet/ops";
 * console.log(grid(1000, 256)); // [4, 1, 1]
 * console.log(grid(256 * 70000, 256)); // [35000, 2, 1]
 * ```
 */
export function grid(invocations: number, workgroupSize: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroupSize));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * Encodes `dispatches` in order into one compute pass of `encoder`.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { type Dispatch, encode } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const dispatches: Dispatch[] = []; // e.g. from kernel() or reluForward()
 * const encoder = gpu.device.createCommandEncoder();
 * encode(encoder, dispatches);
 * gpu.device.queue.submit([encoder.finish()]);
 * ```
 */
export function encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
}

/**
 * Submits `dispatches` as one command buffer.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { reluForward, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const x = tensor(gpu.upload("x", new Float32Array([-1, 1])), [2]);
 * submit(gpu, reluForward(gpu, 2, { input: x, output: tensor(gpu.buffer("y", 8), [2]) }, "relu"));
 * ```
 */
export function submit(gpu: Gpu, dispatches: readonly Dispatch[]): void {
  const encoder = gpu.device.createCommandEncoder();
  encode(encoder, dispatches);
  gpu.device.queue.submit([encoder.finish()]);
}
