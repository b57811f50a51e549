/**
 * The convolution autotune, measured once per adapter and kept in the cache folder, so that only the first
 * run on a machine pays for it.
 *
 * @module
 */

import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { writeFileAtomicAsync } from "../io/atomic.ts";
import {
  type ConvTuning,
  type MeasuredConvTuning,
  measuredOn,
  tuneConvolutions,
  UNTUNED,
} from "../ops/conv2d.ts";

/**
 * The convolution tuning measured on this adapter, to pass to `TrainingStep.compile` and
 * `Inference.compile` as `tuning`: read from `<cacheDir>/conv-tuning.json` when that file was made on the
 * same adapter, else measured now (seconds) and written there atomically.
 *
 * @example
 * ```ts
 * import { Gpu, resnet20, TrainingStep, tuneConvolutionsCached } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const tuning = await tuneConvolutionsCached(gpu, await Deno.makeTempDir());
 * const optimizer = { lr: 0.1, momentum: 0.9 };
 * await TrainingStep.compile(gpu, resnet20(), { batchSize: 8, optimizer, tuning });
 * ```
 */
export async function tuneConvolutionsCached(gpu: Gpu, cacheDir: string): Promise<MeasuredConvTuning> {
  const path = tuningPath(cacheDir);
  const previous = await readTuning(path);
  const tuning = await tuneConvolutions(gpu, { previous });
  if (tuning !== previous) {
    await Deno.mkdir(cacheDir, { recursive: true });
    await writeFileAtomicAsync(path, JSON.stringify(tuning));
  }
  return tuning;
}

/**
 * The convolution tuning cached in `<cacheDir>/conv-tuning.json` when it was measured on this adapter,
 * else the untuned default: never measures (for short commands such as `eval` and `predict`).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { cachedConvTuning } from "@denogpu/resnet/train";
 * const gpu = await Gpu.create();
 * const tuning = await cachedConvTuning(gpu, await Deno.makeTempDir()); // UNTUNED: nothing cached there
 * ```
 */
export async function cachedConvTuning(gpu: Gpu, cacheDir: string): Promise<ConvTuning> {
  const previous = await readTuning(tuningPath(cacheDir));
  return previous && measuredOn(gpu, previous) ? previous : UNTUNED;
}

function tuningPath(cacheDir: string): string {
  return join(cacheDir, "conv-tuning.json");
}

/** The tuning kept at `path`; undefined when absent or unreadable (it is then measured again). */
async function readTuning(path: string): Promise<MeasuredConvTuning | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}
