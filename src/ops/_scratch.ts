/**
 * An op's scratch: memory that lives only within one op's dispatches (split-K partial sums, Winograd
 * transforms, an unrolled weight, reduction partials). Its needs are a list of parts, in bytes, each bound
 * on its own (a dispatch may read one part and write another, which one buffer cannot be bound for); a
 * part of 0 bytes is unused. A compiled step declares each part as a tensor of the op
 * ({@linkcode declareScratch}), so the memory planner shares it with other ops' scratch and activations
 * and never puts two parts of one op in one buffer; a dispatch builder called without scratch makes
 * private buffers.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { numel, type Tensor, tensor } from "../gpu/kernel.ts";

/** An op's scratch parts, as a dispatch builder takes them (`undefined` for a part of 0 bytes). */
export type Scratch = readonly (Tensor | undefined)[];

/** The most parts an op's scratch has. */
const MAX_PARTS = 3;

/** The shape of a scratch tensor of `bytes` bytes (4-byte elements). */
function scratchShape(bytes: number): number[] {
  return [Math.ceil(bytes / 4)];
}

/**
 * The scratch an op of `parts` bytes needs: `given` (whose parts must hold them), or else private buffers
 * made here.
 */
export function opScratch(
  gpu: Gpu,
  given: Scratch | undefined,
  parts: readonly number[],
  label: string,
): Scratch {
  return parts.map((bytes, i) => {
    if (bytes <= 0) return undefined;
    const part = given?.[i];
    if (!given) return tensor(gpu.buffer(`${label} scratch ${i}`, bytes), scratchShape(bytes));
    if (!part || numel(part.shape) * 4 < bytes) {
      throw new Error(
        `${label}: scratch part ${i} holds ${part ? numel(part.shape) * 4 : 0} bytes, the op needs ${bytes}`,
      );
    }
    return part;
  });
}

/** Part `i` of `scratch` (which the op sized), failing if it is absent. */
export function scratchPart(scratch: Scratch, i: number, label: string): Tensor {
  const part = scratch[i];
  if (!part) throw new Error(`${label}: scratch part ${i} is missing`);
  return part;
}

/** Needs of phases of an op that run one after another and so may share parts: the larger of each. */
export function mergeParts(...phases: readonly (readonly number[])[]): number[] {
  const length = Math.max(0, ...phases.map((p) => p.length));
  return Array.from({ length }, (_, i) => Math.max(0, ...phases.map((p) => p[i] ?? 0)));
}

/** Named planner tensors of an op's scratch parts. */
export interface ScratchTensors<T> {
  /** Part 0. */
  scratch0?: T;
  /** Part 1. */
  scratch1?: T;
  /** Part 2. */
  scratch2?: T;
}

/** Planner tensors for scratch `parts` (none for a part of 0 bytes), to add to the op's tensors. */
export function declareScratch<T>(
  ctx: { tensor(shape: readonly number[], label: string): T },
  parts: readonly number[],
  label: string,
): ScratchTensors<T> {
  if (parts.length > MAX_PARTS) {
    throw new Error(`${label}: ${parts.length} scratch parts, at most ${MAX_PARTS}`);
  }
  const [scratch0, scratch1, scratch2] = parts.map((bytes, i) =>
    bytes > 0 ? ctx.tensor(scratchShape(bytes), `${label} scratch ${i}`) : undefined
  );
  return { scratch0, scratch1, scratch2 };
}

/** The scratch parts of an op's resolved tensors, as the dispatch builders take them. */
export function scratchOf(t: ScratchTensors<Tensor>): Scratch {
  return [t.scratch0, t.scratch1, t.scratch2];
}
