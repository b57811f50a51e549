/**
 * Helpers of the benches: settings from the environment, the measurements each bench case keeps, FLOP
 * counts of a traced graph, the summary table printed at the end of the run, and the op benches' timing.
 *
 * @module
 */

import type { Gpu } from "../src/gpu/device.ts";
import type { Dispatch } from "../src/gpu/kernel.ts";
import { timeDispatches } from "../src/gpu/timing.ts";
import type { Graph } from "../src/nn/graph.ts";
import { opDefinition } from "../src/ops/registry.ts";

/** A positive integer from environment variable `name`, or `fallback` when it is unset. */
export function envInteger(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** The comma-separated words of environment variable `name`, or `fallback` when it is unset. */
export function envList(name: string, fallback: readonly string[]): string[] {
  const text = Deno.env.get(name);
  if (text === undefined) return [...fallback];
  return text.split(",").map((word) => word.trim()).filter((word) => word !== "");
}

/** Which library a case measures. */
export type Implementation = "ours" | "tfjs";

/** What a case runs: a training step, a training step of `fc` alone, or an eval-mode forward pass. */
export type Mode = "train" | "fine-tune fc" | "inference";

/** One model, mode and library, prepared (compiled, first step run) and then timed by `Deno.bench`. */
export interface BenchCase {
  /** The model as the table names it, e.g. `"resnet18 imagenet stem"`. */
  model: string;
  /** What one step runs. */
  mode: Mode;
  /** Which library runs it. */
  implementation: Implementation;
  /** Images per step. */
  batch: number;
  /** FLOPs of one step (multiply-add = 2), or 0 where no meaningful count exists. */
  flopsPerStep: number;
  /** Milliseconds from an empty device to the end of the first step: compile, pipelines, first run. */
  firstStepMs: number;
  /** Milliseconds of that spent making buffers, pipelines and bind groups (before the first run). */
  compileMs: number;
  /** GPU bytes the case holds after its first step. */
  totalBytes: number;
  /** Compute dispatches per step, where known. */
  dispatches?: number;
  /** Enqueues one step. */
  run(): void;
  /** Waits until the GPU has finished every enqueued step (no readback). */
  idle(): Promise<void>;
  /** GPU bytes allocated now, to count what a step allocates. */
  bytesNow(): number;
  /** Milliseconds per step of each timing (enqueue to GPU idle, over the steps enqueued together). */
  samples: number[];
  /** Largest growth of the GPU bytes over one timing. */
  bytesPerStep: number;
}

/**
 * Enqueues `steps` steps of `benchCase` back to back and waits once, as a training loop does between two
 * readings of its statistics; records the milliseconds per step and the bytes the steps allocated.
 */
export async function timeSteps(benchCase: BenchCase, steps: number): Promise<void> {
  const before = benchCase.bytesNow();
  const start = performance.now();
  for (let i = 0; i < steps; i++) benchCase.run();
  await benchCase.idle();
  benchCase.samples.push((performance.now() - start) / steps);
  benchCase.bytesPerStep = Math.max(benchCase.bytesPerStep, benchCase.bytesNow() - before);
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Images per second of a case, from the median of its timed steps. */
export function imagesPerSecond(benchCase: BenchCase): number {
  return benchCase.batch / (median(benchCase.samples) / 1000);
}

/**
 * FLOPs of one forward pass of `graph` per sample, as each layer kind's definition counts them: 2 per
 * multiply-add of the convolutions and linear layers (memory-bound kinds count none), as usually quoted.
 */
export function forwardFlopsPerSample(graph: Graph): number {
  let flops = 0;
  for (const node of graph.nodes) flops += opDefinition(node.spec).forwardFlops?.(node.spec, node.shape) ?? 0;
  return flops;
}

/** Bytes as MiB with one decimal. */
export function mebibytes(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** A number with `digits` significant figures, or `"—"` where it is not finite. */
export function figure(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 10 ** digits) return value.toFixed(0);
  return value.toPrecision(digits);
}

/** A Markdown table of `rows` under `header`. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One op bench of {@linkcode benchFastest}. */
export interface OpBench {
  /** The bench's name, also the key of its time in the `fastest` map. */
  name: string;
  /** The `Deno.bench` group, if any. */
  group?: string;
  /** The dispatches of one op. */
  dispatches: readonly Dispatch[];
  /** Called before each timed submit, untimed (e.g. to write the uniforms the op reads). */
  prepare?: () => void;
}

/**
 * Registers a `Deno.bench` whose iterations time the op with {@linkcode timeDispatches} (copies of its
 * dispatches in one submit, the cost of the wait subtracted), and keeps the fewest milliseconds per op of
 * any iteration in `fastest` under the bench's name.
 *
 * @example
 * ```ts ignore
 * const fastest = new Map<string, number>();
 * benchFastest(gpu, fastest, { name: "relu", dispatches: reluForward(gpu, sizes, t, "relu") });
 * ```
 */
export function benchFastest(gpu: Gpu, fastest: Map<string, number>, op: OpBench): void {
  Deno.bench({
    name: op.name,
    group: op.group,
    n: 1,
    warmup: 0,
    async fn() {
      const ms = await timeDispatches(gpu, op.dispatches, { prepare: op.prepare });
      fastest.set(op.name, Math.min(ms, fastest.get(op.name) ?? Infinity));
    },
  });
}
