/**
 * The convolution autotune, measured once per adapter and kept in the cache folder, so that only the first
 * run on a machine pays for it.
 *
 * @module
 */

import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { writeFileAtomicAsync } from "../io/atomic.ts";
import { type ConvTuning, tuneConvolutions } from "../ops/conv2d.ts";

/**
 * Applies the convolution tilings measured on this adapter: read from `<cacheDir>/conv-tuning.json` when
 * that file was made on the same adapter, else measured now (seconds) and written there atomically.
 *
 * @example
 * ```ts
 * import { Gpu, tuneConvolutionsCached } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * await tuneConvolutionsCached(gpu, await Deno.makeTempDir());
 * ```
 */
export async function tuneConvolutionsCached(gpu: Gpu, cacheDir: string): Promise<ConvTuning> {
  const path = join(cacheDir, "conv-tuning.json");
  let previous: ConvTuning | undefined;
  try {
    previous = JSON.parse(await Deno.readTextFile(path));
  } catch {
    // Absent or unreadable: measure again and overwrite it.
  }
  const tuning = await tuneConvolutions(gpu, { previous });
  if (tuning !== previous) {
    await Deno.mkdir(cacheDir, { recursive: true });
    await writeFileAtomicAsync(path, JSON.stringify(tuning));
  }
  return tuning;
}
