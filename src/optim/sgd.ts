/**
 * Stochastic gradient descent with the semantics of `torch.optim.SGD`, over parameters, gradients and
 * momentum buffers kept in flat GPU buffers, with optional clipping by the global gradient norm
 * (`torch.nn.utils.clip_grad_norm_`) computed on the GPU.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import sgdCode from "../../shaders/sgd.wgsl" with { type: "text" };
import {
  checkLayout,
  checkLr,
  type Chunk,
  chunkSize,
  chunksOf,
  GradNorm,
  updateDispatches,
} from "./_flat.ts";
import type { Optimizer } from "./optimizer.ts";

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

function validate(options: SgdOptions, where: string): void {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
  checkLr(lr, where);
  if (!(momentum >= 0)) throw new RangeError(`${where}: Invalid momentum value: ${momentum}`);
  if (!(weightDecay >= 0)) throw new RangeError(`${where}: Invalid weightDecay value: ${weightDecay}`);
  if (!Number.isFinite(dampening)) throw new RangeError(`${where}: Invalid dampening value: ${dampening}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new RangeError(`${where}: Nesterov momentum requires a momentum and zero dampening`);
  }
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
export class Sgd implements Optimizer {
  /** Always `"sgd"`. */
  readonly kind = "sgd";
  /** SGD keeps no step count per parameter. */
  readonly stepInState = false;
  /** The momentum buffer, when given, under torch's key. */
  readonly stateBuffers: Readonly<Record<string, GPUBuffer>>;
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
  #norm: GradNorm;

  private constructor(
    gpu: Gpu,
    groups: readonly ParamGroupRange[],
    dispatches: Dispatch[],
    stepState: GPUBuffer,
    norm: GradNorm,
    momentum: GPUBuffer | undefined,
  ) {
    this.#gpu = gpu;
    this.groups = groups;
    this.dispatches = dispatches;
    this.#stepState = stepState;
    this.#norm = norm;
    this.stateBuffers = momentum ? { momentum_buffer: momentum } : {};
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
    const chunkFloats = chunkSize(gpu, "sgd", options.chunkFloats);
    checkLayout("sgd", groups, (g) => [
      ["params", buffers.params],
      ["grads", buffers.grads],
      ...((g.momentum ?? 0) !== 0 ? [["momentum", buffers.momentum] as [string, GPUBuffer | undefined]] : []),
    ]);
    const chunks = chunksOf(groups, chunkFloats);
    // [first-step flag, lr of each group], rewritten by prepareStep.
    const stepState = gpu.buffer("sgd: step state", 4 + 4 * groups.length);
    const norm = new GradNorm(gpu, "sgd", buffers.grads, chunks, options.maxGradNorm);
    const dispatches = [...norm.dispatches];
    for (const chunk of chunks) {
      dispatches.push(...sgdDispatches(gpu, buffers, groups[chunk.group], chunk, stepState, norm));
    }
    return new Sgd(gpu, groups, dispatches, stepState, norm, buffers.momentum);
  }

  /** `["momentum_buffer"]` for a group with momentum, else none. */
  stateKeys(group: number): string[] {
    return (this.groups[group].momentum ?? 0) !== 0 ? ["momentum_buffer"] : [];
  }

  /** Group `group`'s hyperparameters as in `torch.optim.SGD`'s `param_groups`. */
  hyperparameters(group: number): Record<string, number | boolean> {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = this.groups[group];
    return { lr, momentum, dampening, weight_decay: weightDecay, nesterov, maximize: false };
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
      checkLr(lr, "sgd");
      lrView[i] = lr;
    });
    this.#gpu.write(this.#stepState, state);
    this.stepCount++;
  }

  /**
   * The global gradient 2-norm of the last step, before clipping (one readback; for logging). Needs
   * `maxGradNorm` (possibly `Infinity`) at creation.
   */
  totalGradNorm(): Promise<number> {
    return this.#norm.read();
  }
}

/** The update of one chunk of group `g`, with the entry points and overrides the group needs. */
function sgdDispatches(
  gpu: Gpu,
  buffers: SgdBuffers,
  g: ParamGroupRange,
  chunk: Chunk,
  stepState: GPUBuffer,
  norm: GradNorm,
): Dispatch[] {
  const momentum = g.momentum ?? 0;
  const weightDecay = g.weightDecay ?? 0;
  return updateDispatches(gpu, {
    name: "sgd",
    code: sgdCode,
    entryPoint: momentum !== 0 ? "with_momentum" : "plain",
    constants: {
      CLIP: norm.clips ? 1 : 0,
      WEIGHT_DECAY: weightDecay !== 0 ? 1 : 0,
      NESTEROV: g.nesterov ? 1 : 0,
    },
    uniforms: (length, first) => ({
      length,
      group: chunk.group,
      momentum,
      undamped: 1 - (g.dampening ?? 0),
      weightDecay,
      first,
    }),
    ranged: {
      parameters: buffers.params,
      grads: buffers.grads,
      ...(momentum !== 0 ? { momentumBuffer: buffers.momentum! } : {}),
    },
    whole: { stepState, norm: norm.buffer },
  }, chunk);
}
