/**
 * Adam's and AdamW's state as a value, laid out as `torch.optim.Adam.state_dict()` (PyTorch 1.13 to 2.x):
 * per-parameter state under integer ids, and the parameter groups with their hyperparameters, the ids they
 * hold and the parameters' `state_dict` names. Keys keep PyTorch's snake case.
 *
 * @module
 */

import type { TensorData } from "../io/state_dict.ts";

/**
 * The state Adam keeps for one parameter (`optimizer.state[p]`); absent before the first step.
 *
 * @example
 * ```ts
 * import type { AdamParameterState } from "@denogpu/resnet/ops";
 * const state: AdamParameterState = {
 *   step: 1,
 *   exp_avg: { shape: [1], dtype: "F32", data: new Float32Array([0.05]) },
 *   exp_avg_sq: { shape: [1], dtype: "F32", data: new Float32Array([2.5e-4]) },
 * };
 * ```
 */
export interface AdamParameterState {
  /**
   * Steps taken: a float32 scalar tensor (shape `[]`) as PyTorch 1.13 writes it; a plain number (older
   * PyTorch) is read as well.
   */
  step?: TensorData | number;
  /** The first moment's running average, shaped like the parameter. */
  exp_avg?: TensorData;
  /** The second moment's running average, shaped like the parameter. */
  exp_avg_sq?: TensorData;
  /** The running maximum of `exp_avg_sq`, with amsgrad only. */
  max_exp_avg_sq?: TensorData;
}

/**
 * One entry of `param_groups`: a group's hyperparameters and the ids of its parameters.
 *
 * @example
 * ```ts
 * import type { AdamParamGroupState } from "@denogpu/resnet/ops";
 * const group: AdamParamGroupState = {
 *   lr: 1e-3,
 *   betas: [0.9, 0.999],
 *   eps: 1e-8,
 *   weight_decay: 0,
 *   amsgrad: false,
 *   maximize: false,
 *   params: [0, 1],
 * };
 * ```
 */
export interface AdamParamGroupState {
  /** The group's learning rate. */
  lr: number;
  /** Decay rates of the two moment averages. */
  betas: [number, number];
  /** Added to the denominator. */
  eps: number;
  /** Weight decay (an L2 penalty for Adam, decoupled for AdamW). */
  weight_decay: number;
  /** AMSGrad. */
  amsgrad: boolean;
  /** Whether the objective is maximised; always `false` here. */
  maximize: boolean;
  /** Ids of the group's parameters: keys of {@linkcode AdamStateDict.state}, unique across groups. */
  params: number[];
  /** The parameters' `state_dict` names, in the order of `params`, when known. */
  param_names?: string[];
}

/**
 * The whole optimizer state, as `torch.optim.Adam.state_dict()` (or `AdamW`'s) returns it.
 *
 * @example
 * ```ts
 * import type { AdamStateDict } from "@denogpu/resnet";
 * const tensor = (...values: number[]) => ({
 *   shape: [values.length],
 *   dtype: "F32" as const,
 *   data: new Float32Array(values),
 * });
 * const state: AdamStateDict = {
 *   state: {
 *     0: {
 *       step: { shape: [], dtype: "F32", data: new Float32Array([1]) },
 *       exp_avg: tensor(0.05, -0.1),
 *       exp_avg_sq: tensor(2.5e-6, 1e-5),
 *     },
 *   },
 *   param_groups: [{
 *     lr: 1e-3,
 *     betas: [0.9, 0.999],
 *     eps: 1e-8,
 *     weight_decay: 0.01,
 *     amsgrad: false,
 *     maximize: false,
 *     params: [0],
 *     param_names: ["fc.bias"],
 *   }],
 * };
 * console.log(state.param_groups[0].betas);
 * ```
 */
export interface AdamStateDict {
  /** Per-parameter state by id. */
  state: Record<number, AdamParameterState>;
  /** The parameter groups, in order. */
  param_groups: AdamParamGroupState[];
}
