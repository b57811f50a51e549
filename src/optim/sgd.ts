/**
 * Stochastic gradient descent with the semantics of `torch.optim.SGD`, over parameters, gradients and
 * momentum buffers kept in flat GPU buffers, with optional clipping by the global gradient norm
 * (`torch.nn.utils.clip_grad_norm_`) computed on the GPU.
 *
 * @module
 */

import { BINDING_ALIGNMENT, type Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import sgdCode from "../../shaders/sgd.wgsl" with { type: "text" };
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import gradNormCode from "../../shaders/grad_norm.wgsl" with { type: "text" };

/** Hyperparameters of SGD, named and defaulted as in `torch.optim.SGD`. */
export interface SgdOptions {
  /** Learning rate, >= 0. */
  lr: number;
  /** Momentum factor, >= 0; 0 (the default) keeps no momentum buffer. */
  momentum?: number;
  /** Dampening of the momentum, 0 by default. */
  dampening?: number;
  /** L2 penalty added to the gradient (`g + weightDecay * w`), >= 0, 0 by default. */
  weightDecay?: number;
  /** Nesterov momentum; needs `momentum > 0` and `dampening == 0`. */
  nesterov?: boolean;
}

/** A parameter group: a contiguous range of the flat buffers and its hyperparameters. */
export interface ParamGroupRange extends SgdOptions {
  /** First float of the range; a multiple of 64 so that its bindings are 256-byte aligned. */
  offset: number;
  /** Number of floats. */
  length: number;
}

/** The flat buffers an {@linkcode Sgd} updates, all with the same layout. */
export interface SgdBuffers {
  /** Parameters, updated in place. */
  params: GPUBuffer;
  /** Gradients, only read. */
  grads: GPUBuffer;
  /** Momentum buffers, updated in place; needed only when some group has momentum. */
  momentum?: GPUBuffer;
}

/** Options of {@linkcode Sgd.create} beyond the groups. */
export interface SgdCreateOptions {
  /**
   * Clip gradients to this global 2-norm before the step, as `clip_grad_norm_(params, maxGradNorm)`
   * does; `Infinity` computes the norm (for {@linkcode Sgd.totalGradNorm}) without clipping.
   */
  maxGradNorm?: number;
  /** Floats per dispatch; a multiple of 64, by default as many as one storage binding may hold. */
  chunkFloats?: number;
}

const normCode = compose(reduceCode, gradNormCode);
const WORKGROUP = 256;
/** vec4fs each invocation of the update updates (the grid-stride loop's trip count). */
const VECS_PER_INVOCATION = 4;
/** Floats each workgroup of the norm's first pass reduces (`ITEMS` * `WG` in grad_norm.wgsl). */
const NORM_ITEMS = 16;
const ALIGN_FLOATS = BINDING_ALIGNMENT / 4;

interface Chunk {
  group: number;
  offset: number;
  length: number;
}

function validate(options: SgdOptions, where: string): void {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`${where}: Invalid lr value: ${lr}`);
  if (!(momentum >= 0)) throw new RangeError(`${where}: Invalid momentum value: ${momentum}`);
  if (!(weightDecay >= 0)) throw new RangeError(`${where}: Invalid weightDecay value: ${weightDecay}`);
  if (!Number.isFinite(dampening)) throw new RangeError(`${where}: Invalid dampening value: ${dampening}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new RangeError(`${where}: Nesterov momentum requires a momentum and zero dampening`);
  }
}

function checkLayout(groups: readonly ParamGroupRange[], buffers: SgdBuffers, chunkFloats: number): void {
  if (!Number.isInteger(chunkFloats) || chunkFloats < ALIGN_FLOATS || chunkFloats % ALIGN_FLOATS !== 0) {
    throw new RangeError(
      `sgd: chunkFloats must be a positive multiple of ${ALIGN_FLOATS}, got ${chunkFloats}`,
    );
  }
  const sorted = groups.map((g, i) => ({ ...g, i })).sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const g of sorted) {
    const where = `sgd: param group ${g.i}`;
    if (!Number.isInteger(g.offset) || g.offset < 0 || g.offset % ALIGN_FLOATS !== 0) {
      throw new RangeError(`${where}: offset ${g.offset} is not a multiple of ${ALIGN_FLOATS} floats`);
    }
    if (!Number.isInteger(g.length) || g.length < 1) {
      throw new RangeError(`${where}: length must be a positive integer, got ${g.length}`);
    }
    if (g.offset < end) throw new RangeError(`${where}: overlaps another group`);
    end = g.offset + g.length;
    const used: Array<[string, GPUBuffer | undefined]> = [["params", buffers.params], [
      "grads",
      buffers.grads,
    ]];
    if ((g.momentum ?? 0) !== 0) used.push(["momentum", buffers.momentum]);
    for (const [name, buffer] of used) {
      if (!buffer) throw new Error(`${where}: has momentum but no momentum buffer was given`);
      if (end * 4 > buffer.size) {
        throw new RangeError(`${where}: ends at float ${end}, past the end of the ${name} buffer`);
      }
    }
  }
}

function chunksOf(groups: readonly ParamGroupRange[], chunkFloats: number): Chunk[] {
  const chunks: Chunk[] = [];
  groups.forEach((g, group) => {
    for (let start = 0; start < g.length; start += chunkFloats) {
      chunks.push({ group, offset: g.offset + start, length: Math.min(chunkFloats, g.length - start) });
    }
  });
  return chunks;
}

function slice(buffer: GPUBuffer, chunk: Chunk): Tensor {
  return { buffer, offset: chunk.offset * 4, shape: [chunk.length] };
}

/**
 * An SGD optimizer whose whole step (optional gradient clipping included) is a fixed list of dispatches,
 * made once; per step only a few bytes (the learning rate of each group and whether this is the first
 * step) are written to the GPU. The update of each group is that of `torch.optim.SGD`:
 * `g = clip * grad + weightDecay * w`; with momentum, `buf = g` on the first step and
 * `buf = momentum * buf + (1 - dampening) * g` after, then `g = g + momentum * buf` (Nesterov) or `buf`;
 * finally `w = w - lr * g`. Floats outside every group (frozen parameters) are never touched.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit } from "@denogpu/resnet/ops";
 * import { Sgd } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const params = gpu.upload("params", new Float32Array([1, -2]));
 * const grads = gpu.upload("grads", new Float32Array([0.5, 0.25]));
 * const momentum = gpu.buffer("momentum", 8);
 * const sgd = Sgd.create(gpu, { params, grads, momentum }, [
 *   { offset: 0, length: 2, lr: 0.1, momentum: 0.9, weightDecay: 1e-4 },
 * ], { maxGradNorm: 5 });
 * sgd.prepareStep(); // before submitting each step's command buffer
 * submit(gpu, sgd.dispatches); // normally encoded after the backward pass
 * console.log(await gpu.readFloats(params, 0, 2));
 * ```
 */
export class Sgd {
  /**
   * The step: gradient-norm dispatches (when clipping) then one update per chunk of each group, and a second
   * for the last floats of a chunk whose length is not a multiple of 4.
   */
  readonly dispatches: readonly Dispatch[];
  /** The parameter groups, as given. */
  readonly groups: readonly ParamGroupRange[];
  /** Steps prepared so far; set it when resuming (0 makes the next step initialise the momentum). */
  stepCount = 0;
  #gpu: Gpu;
  #stepState: GPUBuffer;
  #norm: GPUBuffer;
  #normComputed: boolean;

  private constructor(
    gpu: Gpu,
    groups: readonly ParamGroupRange[],
    dispatches: Dispatch[],
    stepState: GPUBuffer,
    norm: GPUBuffer,
    normComputed: boolean,
  ) {
    this.#gpu = gpu;
    this.groups = groups;
    this.dispatches = dispatches;
    this.#stepState = stepState;
    this.#norm = norm;
    this.#normComputed = normComputed;
  }

  /**
   * Builds the step's dispatches for `groups` of the flat `buffers`. Throws, naming the option, on a
   * negative lr, momentum or weight decay, on Nesterov without momentum or with dampening, and on groups
   * that overlap, are misaligned or run past a buffer.
   */
  static create(
    gpu: Gpu,
    buffers: SgdBuffers,
    groups: readonly ParamGroupRange[],
    options: SgdCreateOptions = {},
  ): Sgd {
    groups.forEach((g, i) => validate(g, `sgd: param group ${i}`));
    const bindingFloats = Math.floor(gpu.limits.maxStorageBufferBindingSize / BINDING_ALIGNMENT) *
      ALIGN_FLOATS;
    const chunkFloats = options.chunkFloats ?? bindingFloats;
    checkLayout(groups, buffers, chunkFloats);
    const { maxGradNorm } = options;
    if (maxGradNorm !== undefined && !(maxGradNorm > 0)) {
      throw new RangeError(`sgd: maxGradNorm must be positive, got ${maxGradNorm}`);
    }
    const chunks = chunksOf(groups, chunkFloats);
    // [first-step flag, lr of each group], rewritten by prepareStep.
    const stepState = gpu.buffer("sgd: step state", 4 + 4 * groups.length);
    // [total gradient norm, clip coefficient]; the coefficient stays 1 without clipping.
    const norm = gpu.upload("sgd: gradient norm", new Float32Array([0, 1]));
    const dispatches: Dispatch[] = [];
    if (maxGradNorm !== undefined) {
      dispatches.push(...normDispatches(gpu, buffers.grads, chunks, norm, maxGradNorm));
    }
    const clip = maxGradNorm !== undefined && Number.isFinite(maxGradNorm);
    for (const chunk of chunks) {
      dispatches.push(...updateDispatches(gpu, buffers, groups[chunk.group], chunk, stepState, norm, clip));
    }
    return new Sgd(gpu, groups, dispatches, stepState, norm, maxGradNorm !== undefined);
  }

  /**
   * Writes this step's learning rates (one per group; the groups' `lr` by default) and first-step flag to
   * the GPU, then counts the step. Call it once before submitting each command buffer holding
   * {@linkcode dispatches}.
   */
  prepareStep(lrs: readonly number[] = this.groups.map((g) => g.lr)): void {
    if (lrs.length !== this.groups.length) {
      throw new RangeError(`sgd: ${lrs.length} learning rates given for ${this.groups.length} param groups`);
    }
    const state = new Uint32Array(1 + lrs.length);
    state[0] = this.stepCount === 0 ? 1 : 0;
    const lrView = new Float32Array(state.buffer, 4);
    lrs.forEach((lr, i) => {
      if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`sgd: Invalid lr value: ${lr}`);
      lrView[i] = lr;
    });
    this.#gpu.write(this.#stepState, state);
    this.stepCount++;
  }

  /**
   * The global gradient 2-norm of the last step, before clipping (one readback; for logging). Needs
   * `maxGradNorm` (possibly `Infinity`) at creation.
   */
  async totalGradNorm(): Promise<number> {
    if (!this.#normComputed) throw new Error("sgd: the gradient norm is computed only with maxGradNorm set");
    return (await this.#gpu.readFloats(this.#norm, 0, 1))[0];
  }
}

/**
 * The update of one chunk: its whole vec4fs in one dispatch, then its last `length % 4` floats (if any) in
 * a second, bound from the chunk's last 256-byte boundary since a binding may start nowhere else.
 */
function updateDispatches(
  gpu: Gpu,
  buffers: SgdBuffers,
  g: ParamGroupRange,
  chunk: Chunk,
  stepState: GPUBuffer,
  norm: GPUBuffer,
  clip: boolean,
): Dispatch[] {
  const momentum = g.momentum ?? 0;
  const weightDecay = g.weightDecay ?? 0;
  const constants = {
    WG: WORKGROUP,
    CLIP: clip ? 1 : 0,
    WEIGHT_DECAY: weightDecay !== 0 ? 1 : 0,
    NESTEROV: g.nesterov ? 1 : 0,
  };
  const entryPoint = momentum !== 0 ? "with_momentum" : "plain";
  const label = `sgd: param group ${chunk.group} [${chunk.offset}, ${chunk.offset + chunk.length})`;
  const uniforms = (length: number, first: number) => ({
    length,
    group: chunk.group,
    momentum,
    undamped: 1 - (g.dampening ?? 0),
    weightDecay,
    first,
  });
  // The tails bind the same buffers through their float views, which sgd.wgsl names `tail_*`.
  const bindings = (part: Chunk, tail: boolean): Record<string, Tensor | GPUBuffer> => {
    const name = (view: string) => tail ? `tail${view[0].toUpperCase()}${view.slice(1)}` : view;
    return {
      [name("parameters")]: slice(buffers.params, part),
      [name("grads")]: slice(buffers.grads, part),
      stepState,
      norm,
      ...(momentum !== 0 ? { [name("momentumBuffer")]: slice(buffers.momentum!, part) } : {}),
    };
  };
  const dispatches: Dispatch[] = [];
  const vecs = Math.floor(chunk.length / 4);
  if (vecs > 0) {
    dispatches.push(kernel(gpu, {
      label,
      code: sgdCode,
      entryPoint,
      constants,
      uniforms: uniforms(vecs, 0),
      bindings: bindings({ ...chunk, length: vecs * 4 }, false),
      workgroups: grid(Math.ceil(vecs / VECS_PER_INVOCATION), WORKGROUP),
    }));
  }
  if (chunk.length % 4 !== 0) {
    const boundary = Math.floor(chunk.length / ALIGN_FLOATS) * ALIGN_FLOATS;
    const tail = { ...chunk, offset: chunk.offset + boundary, length: chunk.length - boundary };
    dispatches.push(kernel(gpu, {
      label: `${label}: last ${chunk.length % 4} floats`,
      code: sgdCode,
      entryPoint: `${entryPoint}_tail`,
      constants,
      uniforms: uniforms(tail.length, vecs * 4 - boundary),
      bindings: bindings(tail, true),
      workgroups: [1, 1, 1],
    }));
  }
  return dispatches;
}

function normDispatches(
  gpu: Gpu,
  grads: GPUBuffer,
  chunks: readonly Chunk[],
  norm: GPUBuffer,
  maxGradNorm: number,
): Dispatch[] {
  const perWorkgroup = WORKGROUP * NORM_ITEMS;
  const constants = { WG: WORKGROUP, ITEMS: NORM_ITEMS };
  const partialCount = chunks.reduce((n, c) => n + Math.ceil(c.length / perWorkgroup), 0);
  const partials = gpu.buffer("sgd: gradient norm partial sums", partialCount * 4);
  const dispatches: Dispatch[] = [];
  let first = 0;
  for (const chunk of chunks) {
    const workgroups = Math.ceil(chunk.length / perWorkgroup);
    dispatches.push(kernel(gpu, {
      label: `sgd: gradient norm of [${chunk.offset}, ${chunk.offset + chunk.length})`,
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
    label: "sgd: gradient norm",
    code: normCode,
    entryPoint: "finish",
    constants,
    uniforms: { length: partialCount, first: 0, maxNorm: clip ? maxGradNorm : 0, clip: clip ? 1 : 0 },
    bindings: { partialSums: partials, norm },
    workgroups: [1, 1, 1],
  }));
  return dispatches;
}
