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
  defaultConvTuning,
  type MeasuredConvTuning,
  measuredOn,
  tuneConvolutions,
} from "../ops/conv2d.ts";
import { GEMM_KINDS } from "../ops/_conv_strategy.ts";
import { defaultCacheDir } from "../io/cache.ts";

/**
 * The convolution tuning measured on this adapter, to pass to `TrainingStep.compile` and
 * `Inference.compile` as `tuning`: read from `<cacheDir>/conv-tuning.json` (the cache folder the CLI uses
 * by default) when that file was made on the same adapter, else measured now (seconds) and written there
 * atomically.
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
export async function tuneConvolutionsCached(
  gpu: Gpu,
  cacheDir: string = defaultCacheDir(),
): Promise<MeasuredConvTuning> {
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
 * else the adapter class's default ({@linkcode defaultConvTuning}): never measures (for short commands such
 * as `eval` and `predict`).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { cachedConvTuning } from "@denogpu/resnet/train";
 * const gpu = await Gpu.create();
 * const tuning = await cachedConvTuning(gpu, await Deno.makeTempDir()); // nothing cached there: the default
 * ```
 */
export async function cachedConvTuning(gpu: Gpu, cacheDir: string): Promise<ConvTuning> {
  const previous = await readTuning(tuningPath(cacheDir));
  return previous && measuredOn(gpu, previous) ? previous : defaultConvTuning(gpu);
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

/**
 * The convolution tuning kept in `path` (a file {@linkcode saveConvTuning} or the autotune's cache wrote),
 * made on any adapter: an application can ship the tuning of the GPUs it targets instead of measuring on
 * first run. Tilings that this adapter's limits do not allow are skipped when kernels are chosen.
 *
 * @example
 * ```ts
 * import { loadConvTuning, saveConvTuning } from "@denogpu/resnet/train";
 * import { Gpu, tuneConvolutionsCached } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const path = (await Deno.makeTempDir()) + "/tuning.json";
 * await saveConvTuning(path, await tuneConvolutionsCached(gpu, await Deno.makeTempDir()));
 * const tuning = await loadConvTuning(path); // pass as `tuning` to TrainingStep.compile or fit
 * ```
 *
 * @throws {Error} Naming `path` when it cannot be read, is not JSON or is not a convolution tuning.
 */
export async function loadConvTuning(path: string): Promise<MeasuredConvTuning> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read the convolution tuning: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not a convolution tuning: not JSON`);
  }
  const problem = tuningProblem(value);
  if (problem) throw new Error(`${path}: not a convolution tuning: ${problem}`);
  return value as MeasuredConvTuning;
}

/**
 * Writes `tuning` to `path` atomically as JSON, for {@linkcode loadConvTuning}.
 *
 * @example
 * ```ts
 * import { saveConvTuning } from "@denogpu/resnet/train";
 * import { Gpu, tuneConvolutionsCached } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const tuning = await tuneConvolutionsCached(gpu, await Deno.makeTempDir());
 * await saveConvTuning((await Deno.makeTempDir()) + "/tuning.json", tuning);
 * ```
 */
export async function saveConvTuning(path: string, tuning: MeasuredConvTuning): Promise<void> {
  await writeFileAtomicAsync(path, JSON.stringify(tuning, null, 1));
}

/**
 * The tuning of `--tuning FILE`: read from `path` when it exists, else measured on `gpu` now and written
 * there (so that the next run, or another machine, reads it).
 *
 * @example
 * ```ts
 * import { tuningFile } from "@denogpu/resnet/train";
 * import { Gpu } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const path = (await Deno.makeTempDir()) + "/tuning.json";
 * await tuningFile(gpu, path); // measures and writes path
 * await tuningFile(gpu, path); // reads it back
 * ```
 */
export async function tuningFile(gpu: Gpu, path: string): Promise<MeasuredConvTuning> {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const tuning = await tuneConvolutions(gpu);
    await saveConvTuning(path, tuning);
    return tuning;
  }
  return await loadConvTuning(path);
}

/** What is wrong with `value` as a convolution tuning, or undefined when nothing. */
function tuningProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "expected an object";
  const tuning = value as Record<string, unknown>;
  if (typeof tuning.adapterKey !== "string") return "adapterKey is not a string";
  for (const field of ["winogradTransformMsPerValue", "winograd4TransformMsPerValue", "dispatchMs"]) {
    if (tuning[field] === undefined) {
      return `${field} is missing (written by an older version: delete the file to measure again)`;
    }
    if (typeof tuning[field] !== "number") return `${field} is not a number`;
  }
  const results = tuning.results as Record<string, unknown> | undefined;
  if (typeof results !== "object" || results === null) return "results is not an object";
  for (const kind of GEMM_KINDS) {
    const measured = results[kind];
    if (!Array.isArray(measured) || measured.length === 0) return `results.${kind} is not a list of tilings`;
    for (const [i, entry] of measured.entries()) {
      const tiling = entry?.tiling;
      const fields = ["workgroupX", "workgroupY", "rows", "columnVectors"];
      if (
        typeof entry?.gflops !== "number" || typeof tiling !== "object" ||
        fields.some((f) => !Number.isInteger(tiling?.[f]) || tiling[f] < 1)
      ) {
        return `results.${kind}[${i}] is not a tiling (${fields.join(", ")}) with its gflops`;
      }
    }
  }
  return undefined;
}
