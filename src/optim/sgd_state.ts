/**
 * SGD's state as a value, laid out as `torch.optim.SGD.state_dict()` (PyTorch 1.13 to 2.x): per-parameter
 * state under integer ids, and the parameter groups with their hyperparameters, the ids they hold and (as
 * PyTorch 2.6 writes for optimizers built from `named_parameters()`) the parameters' `state_dict` names.
 * Keys keep PyTorch's snake case so that the value converts to and from PyTorch's one to one.
 *
 * @module
 */

import type { TensorData } from "../io/state_dict.ts";

/** The state SGD keeps for one parameter (`optimizer.state[p]`). */
export interface SgdParameterState {
  /**
   * The momentum buffer, shaped like the parameter; absent before the first step and `null` (as PyTorch
   * 1.13 writes) or absent in groups without momentum.
   */
  momentum_buffer?: TensorData | null;
}

/** One entry of `param_groups`: a group's hyperparameters and the ids of its parameters. */
export interface SgdParamGroupState {
  /** The group's learning rate. */
  lr: number;
  /** Momentum factor. */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** L2 penalty. */
  weight_decay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Whether the objective is maximised; always `false` here. */
  maximize: boolean;
  /** Ids of the group's parameters: keys of {@linkcode SgdStateDict.state}, unique across groups. */
  params: number[];
  /** The parameters' `state_dict` names, in the order of `params`, when known. */
  param_names?: string[];
}

/**
 * The whole optimizer state, as `torch.optim.SGD.state_dict()` returns it.
 *
 * @example
 * ```ts
 * import type { SgdStateDict } from "@denogpu/resnet";
 * const state: SgdStateDict = {
 *   state: { 0: { momentum_buffer: { shape: [2], dtype: "F32", data: new Float32Array([0.5, -1]) } } },
 *   param_groups: [{
 *     lr: 0.1,
 *     momentum: 0.9,
 *     dampening: 0,
 *     weight_decay: 5e-4,
 *     nesterov: false,
 *     maximize: false,
 *     params: [0],
 *     param_names: ["fc.bias"],
 *   }],
 * };
 * console.log(state.param_groups[0].param_names);
 * ```
 */
export interface SgdStateDict {
  /** Per-parameter state by id. */
  state: Record<number, SgdParameterState>;
  /** The parameter groups, in order. */
  param_groups: SgdParamGroupState[];
}
