/**
 * A float64 CPU reference of `torch.optim.Adam`'s and `torch.optim.AdamW`'s step (torch 1.13's
 * `_single_tensor_adam(w)`).
 *
 * @module
 */

/** Adam hyperparameters, named and defaulted as in `torch.optim.Adam`. */
export interface AdamReferenceOptions {
  /** Learning rate. */
  lr: number;
  /** Decay rates of the moment averages. */
  betas?: readonly [number, number];
  /** Added to the denominator. */
  eps?: number;
  /** L2 penalty (Adam) or decoupled decay (AdamW). */
  weightDecay?: number;
  /** AMSGrad. */
  amsgrad?: boolean;
  /** AdamW's decoupled weight decay. */
  decoupledWeightDecay?: boolean;
}

/** Parameters and moments of a flat range. */
export interface AdamReferenceState {
  /** Parameters. */
  params: Float64Array;
  /** First moments. */
  expAvg: Float64Array;
  /** Second moments. */
  expAvgSq: Float64Array;
  /** Running maxima of the second moments. */
  maxExpAvgSq: Float64Array;
}

/** The state before the first step: moments zero, as torch initialises them. */
export function adamInitialState(params: ArrayLike<number>): AdamReferenceState {
  const n = params.length;
  return {
    params: Float64Array.from(params),
    expAvg: new Float64Array(n),
    expAvgSq: new Float64Array(n),
    maxExpAvgSq: new Float64Array(n),
  };
}

/**
 * Step number `step` (1-based) of Adam or AdamW from `state`, the gradient scaled by `clipCoefficient` first
 * as `clip_grad_norm_` does in place.
 *
 * @example
 * ```ts
 * const next = adamStepReference(adamInitialState([1, -2]), [0.5, 0.25], 1, { lr: 0.1 });
 * console.log(next.params); // ≈ [0.9, -1.9]: the first step moves each weight by lr
 * ```
 */
export function adamStepReference(
  state: AdamReferenceState,
  grads: ArrayLike<number>,
  step: number,
  options: AdamReferenceOptions,
  clipCoefficient = 1,
): AdamReferenceState {
  const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false } = options;
  const [beta1, beta2] = betas;
  const out = {
    params: Float64Array.from(state.params),
    expAvg: Float64Array.from(state.expAvg),
    expAvgSq: Float64Array.from(state.expAvgSq),
    maxExpAvgSq: Float64Array.from(state.maxExpAvgSq),
  };
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < out.params.length; i++) {
    let g = grads[i] * clipCoefficient;
    if (options.decoupledWeightDecay) out.params[i] *= 1 - lr * weightDecay;
    else g += weightDecay * state.params[i];
    out.expAvg[i] = beta1 * out.expAvg[i] + (1 - beta1) * g;
    out.expAvgSq[i] = beta2 * out.expAvgSq[i] + (1 - beta2) * g * g;
    out.maxExpAvgSq[i] = Math.max(out.maxExpAvgSq[i], out.expAvgSq[i]);
    const v = amsgrad ? out.maxExpAvgSq[i] : out.expAvgSq[i];
    out.params[i] -= stepSize * out.expAvg[i] / (Math.sqrt(v) / bc2Sqrt + eps);
  }
  return out;
}
