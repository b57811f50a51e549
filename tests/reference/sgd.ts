/**
 * Float64 CPU references of `torch.optim.SGD`'s step and of `torch.nn.utils.clip_grad_norm_`'s scaling.
 *
 * @module
 */

/** SGD hyperparameters, named and defaulted as in `torch.optim.SGD`. */
export interface SgdReferenceOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (0: no momentum buffer). */
  momentum?: number;
  /** Dampening of the momentum. */
  dampening?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** Nesterov momentum. */
  nesterov?: boolean;
}

/** The state after one {@linkcode sgdStepReference}. */
export interface SgdReferenceState {
  /** Updated parameters. */
  params: Float64Array;
  /** Updated momentum buffer; undefined without momentum. */
  momentum: Float64Array | undefined;
}

/**
 * One step of `torch.optim.SGD` for a flat parameter range. `momentumBuffer` is the buffer from the
 * previous step, or undefined before the first step (PyTorch then starts it as a copy of the gradient).
 * The gradient is first scaled by `clipCoefficient`, as `clip_grad_norm_` does in place.
 *
 * @example
 * ```ts
 * const first = sgdStepReference([1, -2], [0.5, 0.25], undefined, { lr: 0.1, momentum: 0.9 });
 * const second = sgdStepReference(first.params, [0.1, -0.3], first.momentum, { lr: 0.1, momentum: 0.9 });
 * console.log(second.params); // ≈ [0.895, -2.0175]
 * ```
 */
export function sgdStepReference(
  params: ArrayLike<number>,
  grads: ArrayLike<number>,
  momentumBuffer: ArrayLike<number> | undefined,
  options: SgdReferenceOptions,
  clipCoefficient = 1,
): SgdReferenceState {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
  const out = Float64Array.from(params);
  const buffer = momentum !== 0 ? new Float64Array(out.length) : undefined;
  for (let i = 0; i < out.length; i++) {
    let g = grads[i] * clipCoefficient + weightDecay * params[i];
    if (buffer) {
      buffer[i] = momentumBuffer ? momentum * momentumBuffer[i] + (1 - dampening) * g : g;
      g = nesterov ? g + momentum * buffer[i] : buffer[i];
    }
    out[i] = params[i] - lr * g;
  }
  return { params: out, momentum: buffer };
}

/**
 * The total 2-norm of all gradients and the factor `clip_grad_norm_(max_norm)` multiplies them by:
 * `min(maxNorm / (totalNorm + 1e-6), 1)`.
 *
 * @example
 * ```ts
 * console.log(clipGradNormReference([[3, 4], [12]], 6.5)); // { totalNorm: 13, coefficient: 0.49999996... }
 * ```
 */
export function clipGradNormReference(
  grads: ArrayLike<number>[],
  maxNorm: number,
): { totalNorm: number; coefficient: number } {
  let squares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
  const totalNorm = Math.sqrt(squares);
  return { totalNorm, coefficient: Math.min(maxNorm / (totalNorm + 1e-6), 1) };
}
