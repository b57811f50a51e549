/**
 * What every fused optimizer shares: parameter groups as ranges of flat buffers, their split into chunks
 * that one storage binding can hold, the update dispatches of a chunk (its vec4fs, then its last floats)
 * and the global gradient norm of `clip_grad_norm_`.
 *
 * @module
 */

import { BINDING_ALIGNMENT, type Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import gradNormCode from "../../shaders/grad_norm.wgsl" with { type: "text" };

const normCode = compose(reduceCode, gradNormCode);
/** Invocations per workgroup of the updates and the norm. */
const WORKGROUP = 256;
/** vec4fs each invocation of an update updates (the grid-stride loop's trip count). */
const VECS_PER_INVOCATION = 4;
/** Floats each workgroup of the norm's first pass reduces (`ITEMS` * `WG` in grad_norm.wgsl). */
const NORM_ITEMS = 16;
/** Floats per 256-byte binding alignment: where a group, and so every binding of it, may start. */
const ALIGN_FLOATS = BINDING_ALIGNMENT / 4;

/** A contiguous range of the flat buffers. */
export interface FlatRange {
  /** First float; a multiple of 64 so that its bindings are 256-byte aligned. */
  offset: number;
  /** Number of floats. */
  length: number;
}

/** A piece of a group that one binding holds. */
export interface Chunk extends FlatRange {
  /** Index of its group. */
  group: number;
}

/** Throws, prefixed with `where`, unless `lr` is a finite learning rate >= 0 (as torch.optim checks). */
export function checkLr(lr: number, where: string): void {
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`${where}: Invalid lr value: ${lr}`);
}

/** Floats per chunk: `chunkFloats` when given (checked), else as many as one storage binding may hold. */
export function chunkSize(gpu: Gpu, name: string, chunkFloats?: number): number {
  const size = chunkFloats ??
    Math.floor(gpu.limits.maxStorageBufferBindingSize / BINDING_ALIGNMENT) * ALIGN_FLOATS;
  if (!Number.isInteger(size) || size < ALIGN_FLOATS || size % ALIGN_FLOATS !== 0) {
    throw new RangeError(`${name}: chunkFloats must be a positive multiple of ${ALIGN_FLOATS}, got ${size}`);
  }
  return size;
}

/**
 * Throws unless the groups are aligned, disjoint and inside every buffer that `buffersOf(group)` says the
 * group updates (an `undefined` buffer is one the caller did not give).
 */
export function checkLayout<G extends FlatRange>(
  name: string,
  groups: readonly G[],
  buffersOf: (group: G) => Array<[string, GPUBuffer | undefined]>,
): void {
  const sorted = groups.map((g, i) => ({ g, i })).sort((a, b) => a.g.offset - b.g.offset);
  let end = 0;
  for (const { g, i } of sorted) {
    const where = `${name}: param group ${i}`;
    if (!Number.isInteger(g.offset) || g.offset < 0 || g.offset % ALIGN_FLOATS !== 0) {
      throw new RangeError(`${where}: offset ${g.offset} is not a multiple of ${ALIGN_FLOATS} floats`);
    }
    if (!Number.isInteger(g.length) || g.length < 1) {
      throw new RangeError(`${where}: length must be a positive integer, got ${g.length}`);
    }
    if (g.offset < end) throw new RangeError(`${where}: overlaps another group`);
    end = g.offset + g.length;
    for (const [buffer, value] of buffersOf(g)) {
      if (!value) throw new Error(`${where}: needs a ${buffer} buffer, but none was given`);
      if (end * 4 > value.size) {
        throw new RangeError(`${where}: ends at float ${end}, past the end of the ${buffer} buffer`);
      }
    }
  }
}

/** The groups cut into chunks of at most `chunkFloats` floats, in group order. */
export function chunksOf(groups: readonly FlatRange[], chunkFloats: number): Chunk[] {
  const chunks: Chunk[] = [];
  groups.forEach((g, group) => {
    for (let start = 0; start < g.length; start += chunkFloats) {
      chunks.push({ group, offset: g.offset + start, length: Math.min(chunkFloats, g.length - start) });
    }
  });
  return chunks;
}

/** `range` of a flat buffer as a tensor binding. */
function slice(buffer: GPUBuffer, range: FlatRange): Tensor {
  return { buffer, offset: range.offset * 4, shape: [range.length] };
}

/** The kernel of one optimizer's update, as a chunk's dispatches need it. */
interface UpdateKernel {
  /** Label prefix, e.g. `"adam"`. */
  name: string;
  /** The WGSL; its tail entry point is `<entryPoint>_tail` and binds `tail_<name>` float views. */
  code: string;
  /** The entry point of the vec4f bulk. */
  entryPoint: string;
  /** Override constants besides `WG`. */
  constants: Record<string, number>;
  /** The uniforms for `length` (vec4fs, or the tail binding's floats) and `first` (the tail's first). */
  uniforms: (length: number, first: number) => Record<string, number>;
  /** The flat buffers the chunk updates, by camelCase WGSL name (bound as slices). */
  ranged: Record<string, GPUBuffer>;
  /** Buffers bound whole (per-step state, the gradient norm). */
  whole: Record<string, GPUBuffer>;
}

/**
 * The update of one chunk: its whole vec4fs in one dispatch, then its last `length % 4` floats (if any) in
 * a second, bound from the chunk's last 256-byte boundary since a binding may start nowhere else.
 */
export function updateDispatches(gpu: Gpu, spec: UpdateKernel, chunk: Chunk): Dispatch[] {
  const label = `${spec.name}: param group ${chunk.group} [${chunk.offset}, ${chunk.offset + chunk.length})`;
  const bindings = (part: FlatRange, tail: boolean): Record<string, Tensor | GPUBuffer> => {
    const bound: Record<string, Tensor | GPUBuffer> = { ...spec.whole };
    for (const [name, buffer] of Object.entries(spec.ranged)) {
      bound[tail ? `tail${name[0].toUpperCase()}${name.slice(1)}` : name] = slice(buffer, part);
    }
    return bound;
  };
  const dispatches: Dispatch[] = [];
  const vecs = Math.floor(chunk.length / 4);
  if (vecs > 0) {
    dispatches.push(kernel(gpu, {
      label,
      code: spec.code,
      entryPoint: spec.entryPoint,
      constants: { WG: WORKGROUP, ...spec.constants },
      uniforms: spec.uniforms(vecs, 0),
      bindings: bindings({ offset: chunk.offset, length: vecs * 4 }, false),
      workgroups: grid(Math.ceil(vecs / VECS_PER_INVOCATION), WORKGROUP),
    }));
  }
  if (chunk.length % 4 !== 0) {
    const boundary = Math.floor(chunk.length / ALIGN_FLOATS) * ALIGN_FLOATS;
    const tail = { offset: chunk.offset + boundary, length: chunk.length - boundary };
    dispatches.push(kernel(gpu, {
      label: `${label}: last ${chunk.length % 4} floats`,
      code: spec.code,
      entryPoint: `${spec.entryPoint}_tail`,
      constants: { WG: WORKGROUP, ...spec.constants },
      uniforms: spec.uniforms(tail.length, vecs * 4 - boundary),
      bindings: bindings(tail, true),
      workgroups: [1, 1, 1],
    }));
  }
  return dispatches;
}

/**
 * The dispatches that write the global 2-norm of `grads` over `chunks` and the clip coefficient
 * `min(1, maxGradNorm / (norm + 1e-6))` into `norm` (`[norm, coefficient]`); `maxGradNorm` `Infinity`
 * leaves the coefficient alone.
 */
function normDispatches(
  gpu: Gpu,
  name: string,
  grads: GPUBuffer,
  chunks: readonly Chunk[],
  norm: GPUBuffer,
  maxGradNorm: number,
): Dispatch[] {
  const perWorkgroup = WORKGROUP * NORM_ITEMS;
  const constants = { WG: WORKGROUP, ITEMS: NORM_ITEMS };
  const partialCount = chunks.reduce((n, c) => n + Math.ceil(c.length / perWorkgroup), 0);
  const partials = gpu.buffer(`${name}: gradient norm partial sums`, partialCount * 4);
  const dispatches: Dispatch[] = [];
  let first = 0;
  for (const chunk of chunks) {
    const workgroups = Math.ceil(chunk.length / perWorkgroup);
    dispatches.push(kernel(gpu, {
      label: `${name}: gradient norm of [${chunk.offset}, ${chunk.offset + chunk.length})`,
      code: normCode,
      entryPoint: "squares",
      constants,
      uniforms: { length: chunk.length, first, maxNorm: 0, clip: 0 },
      bindings: { partialSums: partials, grads: slice(grads, chunk) },
      workgroups: grid(workgroups, 1),
    }));
    first += workgroups;
  }
  const clip = Number.isFinite(maxGradNorm);
  dispatches.push(kernel(gpu, {
    label: `${name}: gradient norm`,
    code: normCode,
    entryPoint: "finish",
    constants,
    uniforms: { length: partialCount, first: 0, maxNorm: clip ? maxGradNorm : 0, clip: clip ? 1 : 0 },
    bindings: { partialSums: partials, norm },
    workgroups: [1, 1, 1],
  }));
  return dispatches;
}

/**
 * The gradient-norm part of an optimizer: its buffer (`[norm, clip coefficient]`, the coefficient 1 without
 * clipping) and dispatches, and its readback.
 */
export class GradNorm {
  /** `[total gradient norm, clip coefficient]`. */
  readonly buffer: GPUBuffer;
  /** The norm's dispatches; empty without `maxGradNorm`. */
  readonly dispatches: readonly Dispatch[];
  /** Whether the update multiplies by the coefficient (a finite `maxGradNorm`). */
  readonly clips: boolean;
  #gpu: Gpu;
  #name: string;

  constructor(gpu: Gpu, name: string, grads: GPUBuffer, chunks: readonly Chunk[], maxGradNorm?: number) {
    if (maxGradNorm !== undefined && !(maxGradNorm > 0)) {
      throw new RangeError(`${name}: maxGradNorm must be positive, got ${maxGradNorm}`);
    }
    this.#gpu = gpu;
    this.#name = name;
    this.buffer = gpu.upload(`${name}: gradient norm`, new Float32Array([0, 1]));
    this.dispatches = maxGradNorm === undefined
      ? []
      : normDispatches(gpu, name, grads, chunks, this.buffer, maxGradNorm);
    this.clips = maxGradNorm !== undefined && Number.isFinite(maxGradNorm);
  }

  /** The norm of the last step, before clipping (one readback). */
  async read(): Promise<number> {
    if (this.dispatches.length === 0) {
      throw new Error(`${this.#name}: the gradient norm is computed only with maxGradNorm set`);
    }
    return (await this.#gpu.readFloats(this.buffer, 0, 1))[0];
  }
}
