/**
 * Adam and AdamW with the semantics of `torch.optim.Adam` and `torch.optim.AdamW` (PyTorch 1.13's
 * single-tensor path), over parameters, gradients and moment buffers kept in flat GPU buffers, with the
 * same optional clipping by the global gradient norm as {@linkcode Sgd}.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import adamCode from "../../shaders/adam.wgsl" with { type: "text" };
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

/**
 * Hyperparameters of Adam, named and defaulted as in `torch.optim.Adam`; with `decoupledWeightDecay` they
 * are AdamW's (whose `weightDecay` defaults to 0.01 where a training step builds it from `kind: "adamw"`).
 *
 * @example
 * ```ts
 * import type { AdamOptions } from "@denogpu/resnet";
 * const adamw: AdamOptions = { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.1, decoupledWeightDecay: true };
 * ```
 */
export interface AdamOptions {
  /** Learning rate, >= 0. */
  lr: number;
  /**
   * Decay rates of the first and second moment averages, each in [0, 1).
   *
   * @default {[0.9, 0.999]}
   */
  betas?: readonly [number, number];
  /**
   * Added to the denominator, > 0.
   *
   * @default {1e-8}
   */
  eps?: number;
  /**
   * Weight decay, >= 0: an L2 penalty added to the gradient (Adam), or with `decoupledWeightDecay`
   * `w *= 1 - lr * weightDecay` before the update (AdamW).
   *
   * @default {0}
   */
  weightDecay?: number;
  /** Normalise by the running maximum of the second moment (AMSGrad). */
  amsgrad?: boolean;
  /** AdamW's decoupled weight decay instead of Adam's L2 penalty. */
  decoupledWeightDecay?: boolean;
}

/**
 * An Adam parameter group: a contiguous range of the flat buffers and its hyperparameters.
 *
 * @example
 * ```ts
 * import type { AdamGroupRange } from "@denogpu/resnet/ops";
 * const group: AdamGroupRange = { offset: 0, length: 1000, lr: 1e-3, amsgrad: true };
 * ```
 */
export interface AdamGroupRange extends AdamOptions {
  /** First float of the range; a multiple of 64 so that its bindings are 256-byte aligned. */
  offset: number;
  /** Number of floats. */
  length: number;
}

/**
 * The flat buffers an {@linkcode Adam} updates, all with the same layout.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import type { AdamBuffers } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const floats = 256;
 * const buffers: AdamBuffers = {
 *   params: gpu.buffer("params", floats * 4),
 *   grads: gpu.buffer("grads", floats * 4),
 *   expAvg: gpu.buffer("exp_avg", floats * 4),
 *   expAvgSq: gpu.buffer("exp_avg_sq", floats * 4),
 * };
 * ```
 */
export interface AdamBuffers {
  /** Parameters, updated in place. */
  params: GPUBuffer;
  /** Gradients, only read. */
  grads: GPUBuffer;
  /** First moments (`exp_avg`), zero before the first step. */
  expAvg: GPUBuffer;
  /** Second moments (`exp_avg_sq`), zero before the first step. */
  expAvgSq: GPUBuffer;
  /** Running maxima of the second moments (`max_exp_avg_sq`), zero at first; needed only with amsgrad. */
  maxExpAvgSq?: GPUBuffer;
}

/**
 * Options of {@linkcode Adam.create} beyond the groups.
 *
 * @example
 * ```ts
 * import type { AdamCreateOptions } from "@denogpu/resnet/ops";
 * const options: AdamCreateOptions = { maxGradNorm: 1 };
 * ```
 */
export interface AdamCreateOptions {
  /**
   * Clip gradients to this global 2-norm before the step, as `clip_grad_norm_(params, maxGradNorm)`
   * does; `Infinity` computes the norm (for {@linkcode Adam.totalGradNorm}) without clipping.
   */
  maxGradNorm?: number;
  /** Floats per dispatch; a multiple of 64, by default as many as one storage binding may hold. */
  chunkFloats?: number;
}

const DEFAULT_BETAS = [0.9, 0.999] as const;
const DEFAULT_EPS = 1e-8;

function validate(options: AdamOptions, where: string): void {
  const { lr, betas = DEFAULT_BETAS, eps = DEFAULT_EPS, weightDecay = 0 } = options;
  checkLr(lr, where);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new RangeError(`${where}: Invalid epsilon value: ${eps}`);
  betas.forEach((beta, i) => {
    if (!(beta >= 0 && beta < 1)) {
      throw new RangeError(`${where}: Invalid beta parameter at index ${i}: ${beta} (must be in [0, 1))`);
    }
  });
  if (betas.length !== 2) throw new RangeError(`${where}: betas must be two numbers, got ${betas.length}`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) {
    throw new RangeError(`${where}: Invalid weight_decay value: ${weightDecay}`);
  }
}

/**
 * An Adam (or AdamW) optimizer whose whole step (optional gradient clipping included) is a fixed list of
 * dispatches, made once: one fused update per chunk of each group. Per step the host computes, in double
 * precision as PyTorch does, each group's `lr / (1 - beta1^step)`, `sqrt(1 - beta2^step)` and (AdamW)
 * `1 - lr * weightDecay`, and writes them to the GPU. Every parameter of a group has taken the same number of
 * steps, so one count ({@linkcode Adam.stepCount}) stands for torch's per-parameter `step`. Floats outside
 * every group (frozen parameters) are never touched.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { Adam, submit } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const params = gpu.upload("params", new Float32Array([1, -2]));
 * const grads = gpu.upload("grads", new Float32Array([0.5, 0.25]));
 * const adamw = Adam.create(gpu, {
 *   params,
 *   grads,
 *   expAvg: gpu.buffer("exp_avg", 8),
 *   expAvgSq: gpu.buffer("exp_avg_sq", 8),
 * }, [{ offset: 0, length: 2, lr: 1e-3, weightDecay: 0.01, decoupledWeightDecay: true }]);
 * adamw.prepareStep(); // before submitting each step's command buffer
 * submit(gpu, adamw.dispatches);
 * console.log(await gpu.readFloats(params, 0, 2)); // ≈ [0.99899, -1.99898]
 * ```
 */
export class Adam implements Optimizer {
  /** `"adamw"` when every group decouples its weight decay, else `"adam"`. */
  readonly kind: "adam" | "adamw";
  /** Adam keeps `step` in each parameter's state. */
  readonly stepInState = true;
  /** The moment buffers under torch's keys. */
  readonly stateBuffers: Readonly<Record<string, GPUBuffer>>;
  /** The step: gradient-norm dispatches (when clipping), then the update of each chunk of each group. */
  readonly dispatches: readonly Dispatch[];
  /** The parameter groups, as given. */
  readonly groups: readonly AdamGroupRange[];
  /** Steps prepared so far; set it when resuming (torch's `state[p]["step"]`). */
  stepCount = 0;
  #gpu: Gpu;
  #stepState: GPUBuffer;
  #norm: GradNorm;

  private constructor(
    gpu: Gpu,
    fields: {
      groups: readonly AdamGroupRange[];
      dispatches: Dispatch[];
      stepState: GPUBuffer;
      norm: GradNorm;
      buffers: AdamBuffers;
    },
  ) {
    this.#gpu = gpu;
    this.groups = fields.groups;
    this.dispatches = fields.dispatches;
    this.#stepState = fields.stepState;
    this.#norm = fields.norm;
    const { expAvg, expAvgSq, maxExpAvgSq } = fields.buffers;
    this.stateBuffers = {
      exp_avg: expAvg,
      exp_avg_sq: expAvgSq,
      ...(maxExpAvgSq ? { max_exp_avg_sq: maxExpAvgSq } : {}),
    };
    this.kind = fields.groups.length > 0 && fields.groups.every((g) => g.decoupledWeightDecay)
      ? "adamw"
      : "adam";
  }

  /**
   * Builds the step's dispatches for `groups` of the flat `buffers`.
   *
   * @throws {RangeError} Naming the option as torch.optim does, on a negative or non-finite lr or weight
   * decay, a beta outside [0, 1), an eps <= 0, and on groups that overlap, are misaligned or run past a
   * buffer.
   * @throws {Error} When a group has amsgrad but no `maxExpAvgSq` buffer was given.
   */
  static create(
    gpu: Gpu,
    buffers: AdamBuffers,
    groups: readonly AdamGroupRange[],
    options: AdamCreateOptions = {},
  ): Adam {
    groups.forEach((g, i) => validate(g, `adam: param group ${i}`));
    const chunkFloats = chunkSize(gpu, "adam", options.chunkFloats);
    checkLayout("adam", groups, (g) => [
      ["params", buffers.params],
      ["grads", buffers.grads],
      ["exp_avg", buffers.expAvg],
      ["exp_avg_sq", buffers.expAvgSq],
      ...(g.amsgrad ? [["max_exp_avg_sq", buffers.maxExpAvgSq] as [string, GPUBuffer | undefined]] : []),
    ]);
    const chunks = chunksOf(groups, chunkFloats);
    // Per group [step size, sqrt of the second bias correction, decay, unused], rewritten by prepareStep.
    const stepState = gpu.buffer("adam: step state", 16 * Math.max(1, groups.length));
    const norm = new GradNorm(gpu, "adam", buffers.grads, chunks, options.maxGradNorm);
    const dispatches = [...norm.dispatches];
    for (const chunk of chunks) {
      dispatches.push(...adamDispatches(gpu, buffers, groups[chunk.group], chunk, stepState, norm));
    }
    return new Adam(gpu, { groups, dispatches, stepState, norm, buffers });
  }

  /** `exp_avg` and `exp_avg_sq`, and `max_exp_avg_sq` for a group with amsgrad. */
  stateKeys(group: number): string[] {
    return ["exp_avg", "exp_avg_sq", ...(this.groups[group].amsgrad ? ["max_exp_avg_sq"] : [])];
  }

  /** Group `group`'s hyperparameters as in `torch.optim.Adam`'s (or `AdamW`'s) `param_groups`. */
  hyperparameters(group: number): Record<string, number | boolean | number[]> {
    const { lr, betas = DEFAULT_BETAS, eps = DEFAULT_EPS, weightDecay = 0, amsgrad = false } =
      this.groups[group];
    return { lr, betas: [...betas], eps, weight_decay: weightDecay, amsgrad, maximize: false };
  }

  /**
   * Writes this step's scalars for the learning rates `lrs` (one per group; the groups' `lr` by default) to
   * the GPU, then counts the step. Call it once before submitting each command buffer holding
   * {@linkcode dispatches}.
   *
   * @throws {RangeError} When `lrs` does not hold one valid learning rate per group.
   */
  prepareStep(lrs: readonly number[] = this.groups.map((g) => g.lr)): void {
    if (lrs.length !== this.groups.length) {
      throw new RangeError(`adam: ${lrs.length} learning rates given for ${this.groups.length} param groups`);
    }
    const step = this.stepCount + 1;
    const state = new Float32Array(4 * Math.max(1, lrs.length));
    lrs.forEach((lr, i) => {
      checkLr(lr, "adam");
      const { betas = DEFAULT_BETAS, weightDecay = 0, decoupledWeightDecay = false } = this.groups[i];
      // The same float64 expressions as torch 1.13's _single_tensor_adam(w), rounded to float32 only here.
      state[4 * i] = lr / (1 - betas[0] ** step);
      state[4 * i + 1] = Math.sqrt(1 - betas[1] ** step);
      state[4 * i + 2] = decoupledWeightDecay ? 1 - lr * weightDecay : 1;
    });
    this.#gpu.write(this.#stepState, state);
    this.stepCount = step;
  }

  /**
   * The global gradient 2-norm of the last step, before clipping (one readback; for logging). Needs
   * `maxGradNorm` (possibly `Infinity`) at creation.
   */
  totalGradNorm(): Promise<number> {
    return this.#norm.read();
  }
}

/** The update of one chunk of group `g`, with the entry point and overrides the group needs. */
function adamDispatches(
  gpu: Gpu,
  buffers: AdamBuffers,
  g: AdamGroupRange,
  chunk: Chunk,
  stepState: GPUBuffer,
  norm: GradNorm,
): Dispatch[] {
  const [beta1, beta2] = g.betas ?? DEFAULT_BETAS;
  const l2 = g.decoupledWeightDecay ? 0 : g.weightDecay ?? 0;
  return updateDispatches(gpu, {
    name: "adam",
    code: adamCode,
    entryPoint: g.amsgrad ? "amsgrad" : "adam",
    constants: { CLIP: norm.clips ? 1 : 0, WEIGHT_DECAY: l2 !== 0 ? 1 : 0 },
    uniforms: (length, first) => ({
      length,
      group: chunk.group,
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      eps: g.eps ?? DEFAULT_EPS,
      weightDecay: l2,
      first,
    }),
    ranged: {
      parameters: buffers.params,
      grads: buffers.grads,
      expAvg: buffers.expAvg,
      expAvgSq: buffers.expAvgSq,
      ...(g.amsgrad ? { maxExpAvgSq: buffers.maxExpAvgSq! } : {}),
    },
    whole: { stepState, norm: norm.buffer },
  }, chunk);
}
