/**
 * The interface a training step drives its optimizer through, whichever update it computes: a fixed list of
 * dispatches over flat buffers, a per-step preparation that writes a few bytes, and the flat state buffers
 * named by torch's per-parameter state keys, so that state dicts are read and written the same way for
 * every optimizer.
 *
 * @module
 */

import type { Dispatch } from "../gpu/kernel.ts";
import type { AdamStateDict } from "./adam_state.ts";
import type { SgdStateDict } from "./sgd_state.ts";

/**
 * The optimizers a training step can use: `torch.optim.SGD`, `Adam` and `AdamW`.
 *
 * @example
 * ```ts
 * import type { OptimizerKind } from "@denogpu/resnet";
 * const kind: OptimizerKind = "adamw";
 * ```
 */
export type OptimizerKind = "sgd" | "adam" | "adamw";

/**
 * A fused optimizer over flat parameter and gradient buffers ({@linkcode Sgd}, {@linkcode Adam}).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { Adam, type Optimizer, submit } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const buffers = {
 *   params: gpu.upload("params", new Float32Array([1, -2])),
 *   grads: gpu.upload("grads", new Float32Array([0.5, 0.25])),
 *   expAvg: gpu.buffer("exp_avg", 8),
 *   expAvgSq: gpu.buffer("exp_avg_sq", 8),
 * };
 * const optimizer: Optimizer = Adam.create(gpu, buffers, [{ offset: 0, length: 2, lr: 1e-3 }]);
 * optimizer.prepareStep();
 * submit(gpu, optimizer.dispatches);
 * console.log(optimizer.kind, optimizer.stateKeys(0)); // "adam" ["exp_avg", "exp_avg_sq"]
 * ```
 */
export interface Optimizer {
  /** Which update this is. */
  readonly kind: OptimizerKind;
  /** The step: the gradient norm's dispatches (when clipping), then the update of every chunk. */
  readonly dispatches: readonly Dispatch[];
  /** The parameter groups: ranges of the flat buffers with their learning rate. */
  readonly groups: readonly { offset: number; length: number; lr: number }[];
  /** Steps prepared so far; set it when resuming. */
  stepCount: number;
  /** Whether torch keeps `step` in each parameter's state (Adam does, SGD does not). */
  readonly stepInState: boolean;
  /** The flat state buffers, laid out like the parameters, by torch's per-parameter state key. */
  readonly stateBuffers: Readonly<Record<string, GPUBuffer>>;
  /** The keys of {@linkcode Optimizer.stateBuffers} group `group` keeps (none for SGD without momentum). */
  stateKeys(group: number): string[];
  /** Group `group`'s hyperparameters as torch's `param_groups` entry holds them (without `params`). */
  hyperparameters(group: number): Record<string, number | boolean | number[]>;
  /** Writes this step's learning rates (one per group; the groups' own by default), then counts the step. */
  prepareStep(lrs?: readonly number[]): void;
  /** The global gradient 2-norm of the last step before clipping (one readback; needs `maxGradNorm`). */
  totalGradNorm(): Promise<number>;
}

/**
 * The state dict of any {@linkcode Optimizer}, in torch's layout; Adam's groups are told apart by their
 * `betas`.
 *
 * @example
 * ```ts
 * import type { OptimizerStateDict } from "@denogpu/resnet";
 * const isAdam = (dict: OptimizerStateDict) => dict.param_groups.some((g) => "betas" in g);
 * console.log(isAdam({ state: {}, param_groups: [] })); // false
 * ```
 */
export type OptimizerStateDict = SgdStateDict | AdamStateDict;
