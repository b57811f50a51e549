/**
 * The error a training run stops with when its loss stops being finite, so that callers tell divergence
 * (keep the last good checkpoint, lower the learning rate) from every other failure by type.
 *
 * @module
 */

/**
 * The loss became NaN or infinite: the weights overflowed, usually from too high a learning rate.
 *
 * @example
 * ```ts
 * import { DivergenceError } from "@denogpu/resnet";
 * try {
 *   throw new DivergenceError("the test loss became NaN", { loss: NaN, step: 120 });
 * } catch (error) {
 *   if (!(error instanceof DivergenceError)) throw error;
 *   console.log(`diverged at step ${error.step}`);
 * }
 * ```
 */
export class DivergenceError extends Error {
  /** The loss that was not finite. */
  readonly loss: number;
  /** Optimizer steps taken when it was seen. */
  readonly step: number;

  /** `message` says which loss diverged and where. */
  constructor(message: string, details: { loss: number; step: number }) {
    super(message);
    this.name = "DivergenceError";
    this.loss = details.loss;
    this.step = details.step;
  }
}
