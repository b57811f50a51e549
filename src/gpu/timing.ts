/**
 * Timing GPU work from the CPU. Waiting for the GPU has a fixed cost (about 11 ms in Deno, on a software
 * adapter and on a real GPU alike) that can exceed a whole op on a fast GPU, so a timing subtracts it and
 * repeats the work until the GPU's share dominates.
 *
 * @module
 */

import type { Gpu } from "./device.ts";
import { type Dispatch, submit } from "./kernel.ts";

/** Options of {@linkcode timeDispatches}. */
export interface TimingOptions {
  /** Least milliseconds of GPU work per timing, besides the wait (default 60). */
  minMilliseconds?: number;
  /** Most copies of the work per submit (default 4096). */
  maxRuns?: number;
  /** Timings to take the best of (default 3). */
  attempts?: number;
  /**
   * After the first round, only candidates within this factor of the fastest are timed again (default
   * 1.5); the others keep their first timing, which is enough to rank them behind.
   */
  contenders?: number;
  /** Called before each timed submit, untimed (e.g. to write the uniforms the dispatches read). */
  prepare?: () => void;
}

async function elapsedMs(gpu: Gpu, dispatches: readonly Dispatch[], prepare?: () => void): Promise<number> {
  prepare?.();
  const start = performance.now();
  submit(gpu, dispatches);
  await gpu.idle();
  return performance.now() - start;
}

/**
 * Milliseconds of GPU time per run of each list of dispatches in `candidates`, each the best of `attempts`
 * timings after a cold and a warm run. Each timing submits enough copies to last `minMilliseconds` and at
 * least four times the cost of a wait, which is measured once with an empty submit and subtracted. The
 * attempts go round all candidates in turn, so that a busy moment of a shared machine does not decide
 * between them alone; rounds after the first skip the candidates that are clearly slower.
 *
 * @example
 * ```ts ignore
 * const [direct, winograd] = await timeEach(gpu, [directDispatches, winogradDispatches]);
 * ```
 */
export async function timeEach(
  gpu: Gpu,
  candidates: readonly (readonly Dispatch[])[],
  options: TimingOptions = {},
): Promise<number[]> {
  const { minMilliseconds = 60, maxRuns = 4096, attempts = 3, contenders = 1.5, prepare } = options;
  let waitMs = Infinity;
  for (let i = 0; i < 3; i++) waitMs = Math.min(waitMs, await elapsedMs(gpu, []));
  const targetMs = Math.max(minMilliseconds, 4 * waitMs);
  const perRun: number[] = [];
  for (const dispatches of candidates) {
    await elapsedMs(gpu, dispatches, prepare);
    perRun.push(Math.max(await elapsedMs(gpu, dispatches, prepare) - waitMs, 1e-3));
  }
  const best = candidates.map(() => Infinity);
  for (let attempt = 0; attempt < attempts; attempt++) {
    const fastest = Math.min(...best);
    for (const [i, dispatches] of candidates.entries()) {
      if (best[i] > contenders * fastest) continue;
      const runs = Math.min(maxRuns, Math.max(1, Math.ceil(targetMs / perRun[i])));
      const repeated = Array.from({ length: runs }, () => dispatches).flat();
      perRun[i] = Math.max(await elapsedMs(gpu, repeated, prepare) - waitMs, 1e-3) / runs;
      best[i] = Math.min(best[i], perRun[i]);
    }
  }
  return best;
}

/**
 * Milliseconds of GPU time per run of `dispatches` (see {@linkcode timeEach}).
 *
 * @example
 * ```ts ignore
 * const ms = await timeDispatches(gpu, reluForward(gpu, sizes, tensors, "relu"));
 * ```
 */
export async function timeDispatches(
  gpu: Gpu,
  dispatches: readonly Dispatch[],
  options: TimingOptions = {},
): Promise<number> {
  return (await timeEach(gpu, [dispatches], options))[0];
}
