/** Seeded mutations of a valid file, as the fuzz tests feed them to the readers. */

import { random } from "../_gpu.ts";

/** A seeded generator of floats in [0, 1): the tests' mulberry32 ({@linkcode random}), rescaled. */
export function generator(seed: number): () => number {
  const next = random(seed);
  return () => (next() + 1) / 2;
}

/** Values that break length and offset fields: zero, all ones, sign bits, just past 32 and 53 bits. */
const EXTREMES = [
  0n,
  1n,
  0x7fn,
  0xffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** What a mutation did, for the failure message. */
export interface Mutation {
  /** The mutated bytes. */
  bytes: Uint8Array;
  /** E.g. `"flip 3 bits"`, `"truncate to 17"`. */
  description: string;
}

/**
 * Case `index` of the mutations of `original`: bit flips, truncation, an extreme little- or big-endian
 * length at a random offset (or at one of `fields`, the offsets of the format's own length fields), a
 * run of random bytes, or bytes cut out of the middle.
 */
export function mutate(original: Uint8Array, index: number, fields: readonly number[] = []): Mutation {
  const random = generator(0x9e3779b9 ^ Math.imul(index + 1, 0x85ebca6b));
  const at = (n: number) => Math.floor(random() * n);
  const bytes = original.slice();
  switch (index % 5) {
    case 0: {
      const flips = 1 + at(8);
      for (let i = 0; i < flips; i++) bytes[at(bytes.length)] ^= 1 << at(8);
      return { bytes, description: `flip ${flips} bits` };
    }
    case 1: {
      const length = at(original.length);
      return { bytes: original.slice(0, length), description: `truncate to ${length}` };
    }
    case 2: {
      const offset = fields.length && random() < 0.5 ? fields[at(fields.length)] : at(bytes.length);
      const width = [2, 4, 8][at(3)];
      const value = EXTREMES[at(EXTREMES.length)];
      const bigEndian = random() < 0.5;
      for (let i = 0; i < width && offset + i < bytes.length; i++) {
        const shift = BigInt(8 * (bigEndian ? width - 1 - i : i));
        bytes[offset + i] = Number((value >> shift) & 0xffn);
      }
      return { bytes, description: `${width}-byte ${bigEndian ? "BE" : "LE"} ${value} at ${offset}` };
    }
    case 3: {
      const offset = at(bytes.length), length = 1 + at(64);
      for (let i = offset; i < Math.min(bytes.length, offset + length); i++) bytes[i] = at(256);
      return { bytes, description: `${length} random bytes at ${offset}` };
    }
    default: {
      const offset = at(original.length), length = 1 + at(Math.max(1, original.length - offset));
      const cut = new Uint8Array(original.length - Math.min(length, original.length - offset));
      cut.set(original.subarray(0, offset));
      cut.set(original.subarray(offset + length), offset);
      return { bytes: cut, description: `cut ${length} bytes at ${offset}` };
    }
  }
}

/** Cases per reader. */
export const CASES = 2000;

/**
 * Runs `read` on `CASES` mutations of `original` and throws, listing the first failures, unless every case
 * either succeeds or throws an Error whose message names `source`, each within `maxMs`.
 */
export async function fuzz(
  original: Uint8Array,
  source: string,
  read: (bytes: Uint8Array) => unknown,
  options: { fields?: readonly number[]; maxMs?: number } = {},
): Promise<{ refused: number; accepted: number }> {
  const failures: string[] = [];
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const { bytes, description } = mutate(original, i, options.fields);
    const start = performance.now();
    try {
      await read(bytes);
    } catch (error) {
      refused++;
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof Error) || !message.includes(source)) {
        failures.push(`case ${i} (${description}): ${error?.constructor?.name}: ${message.slice(0, 200)}`);
      }
    }
    const ms = performance.now() - start;
    if (ms > (options.maxMs ?? 1000)) failures.push(`case ${i} (${description}): took ${ms.toFixed(0)} ms`);
  }
  if (failures.length) {
    throw new Error(`${failures.length} of ${CASES} cases failed:\n${failures.slice(0, 15).join("\n")}`);
  }
  return { refused, accepted: CASES - refused };
}
