/**
 * An exponential moving average of flat buffers on the GPU, as `torch.optim.swa_utils.AveragedModel` with
 * `multi_avg_fn=get_ema_multi_avg_fn(decay)` keeps one of a model's weights.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import emaCode from "../../shaders/ema.wgsl" with { type: "text" };
import { chunkSize, chunksOf, updateDispatches } from "./_flat.ts";

/** Two flat buffers of one layout: the average, updated in place, and the values it follows. */
export interface AveragedBuffers {
  /** What the dispatch labels call them, e.g. `"parameters"`. */
  name: string;
  /** The average, updated in place. */
  averaged: GPUBuffer;
  /** The values averaged, only read; at least as large as `averaged`. */
  current: GPUBuffer;
}

/**
 * `averaged = lerp(averaged, current, 1 - decay)` after every step, over any number of flat buffer pairs,
 * one dispatch per binding-sized chunk: torch's `AveragedModel.update_parameters` with
 * `get_ema_multi_avg_fn(decay)`, including its first update, which copies. A training step averages its
 * parameters and, as torchvision's reference recipe (`use_buffers=True`), BatchNorm's running statistics.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, WeightEma } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const current = gpu.upload("weights", new Float32Array([1, 2, 3, 4]));
 * const averaged = gpu.buffer("averaged weights", 16);
 * const ema = WeightEma.create(gpu, [{ name: "weights", averaged, current }], { decay: 0.9 });
 * ema.prepareUpdate(); // the first update copies
 * submit(gpu, ema.dispatches);
 * console.log(await gpu.readFloats(averaged), ema.updates); // [1, 2, 3, 4] 1
 * ```
 */
export class WeightEma {
  /** The decay, in [0, 1]. */
  readonly decay: number;
  /** One update of every pair. */
  readonly dispatches: readonly Dispatch[];
  /** Updates prepared so far: torch's `n_averaged`; set it when resuming (0 makes the next one copy). */
  updates = 0;
  #gpu: Gpu;
  #weight: GPUBuffer;

  private constructor(gpu: Gpu, decay: number, dispatches: Dispatch[], weight: GPUBuffer) {
    this.#gpu = gpu;
    this.decay = decay;
    this.dispatches = dispatches;
    this.#weight = weight;
  }

  /**
   * The update's dispatches over `pairs`.
   *
   * @throws {RangeError} When `decay` is outside [0, 1], or a pair's `current` is smaller than its average.
   */
  static create(
    gpu: Gpu,
    pairs: readonly AveragedBuffers[],
    options: { decay: number; chunkFloats?: number },
  ): WeightEma {
    const { decay } = options;
    if (!(decay >= 0 && decay <= 1)) throw new RangeError(`ema: decay must be in [0, 1], got ${decay}`);
    const chunkFloats = chunkSize(gpu, "ema", options.chunkFloats);
    const weight = gpu.buffer("ema: weight", 4);
    const dispatches: Dispatch[] = [];
    for (const { name, averaged, current } of pairs) {
      if (current.size < averaged.size) {
        throw new RangeError(`ema: ${name}: the values averaged are smaller than the average`);
      }
      for (const chunk of chunksOf([{ offset: 0, length: averaged.size / 4 }], chunkFloats)) {
        dispatches.push(...updateDispatches(gpu, {
          name: `ema of ${name}`,
          code: emaCode,
          entryPoint: "main",
          constants: {},
          uniforms: (length, first) => ({ length, first }),
          ranged: { averaged, current },
          whole: { weight },
        }, chunk));
      }
    }
    return new WeightEma(gpu, decay, dispatches, weight);
  }

  /**
   * Writes the next update's weight (`1 - decay`, or 1 for the first update, which copies) and counts the
   * update. Call it once before submitting each command buffer holding {@linkcode WeightEma.dispatches}.
   */
  prepareUpdate(): void {
    const weight = this.updates === 0 ? 1 : 1 - this.decay;
    this.#gpu.write(this.#weight, new Float32Array([weight]));
    this.updates++;
  }
}
