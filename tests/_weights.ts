/**
 * Deterministic weights, inputs and labels that `tools/make_fixtures.py` reproduces bit for bit, so fixtures
 * need not store any weights.
 *
 * Element `i` of the tensor named `name` under `seed` draws
 *   `t = (fnv1a32(name) + seed * 0x9E3779B9) mod 2^32`,
 *   `x = (i * 2654435761 + t * 40503 + 12345) mod 2^32`,
 *   `u = fmix32(x) / 2^32` (MurmurHash3's finalizer, so that neighbouring elements are uncorrelated),
 * all in exact integer math, then maps `u` in float64 by the tensor's kind (below) and rounds to float32.
 *
 * @module
 */

import type { StateDict, TensorData } from "../src/io/state_dict.ts";

function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function fmix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The per-tensor seed `t` of the module comment. */
function tensorSeed(name: string, seed: number): number {
  return (fnv1a32(name) + Math.imul(seed, 0x9e3779b9)) >>> 0;
}

/** Calls `visit(i, u)` with the uniform value `u` in [0, 1) of each element `i` of tensor `name`. */
function forEachUniform(
  name: string,
  count: number,
  seed: number,
  visit: (i: number, u: number) => void,
): void {
  const base = (Math.imul(tensorSeed(name, seed), 40503) + 12345) >>> 0;
  for (let i = 0; i < count; i++) visit(i, fmix32((Math.imul(i, 2654435761) + base) >>> 0) / 4294967296);
}

/** `count` uniform values `u` in [0, 1) for tensor `name` (float64, before any mapping). */
export function deterministicUniform(name: string, count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  forEachUniform(name, count, seed, (i, u) => out[i] = u);
  return out;
}

function deterministicFloats(
  name: string,
  count: number,
  seed: number,
  map: (u: number) => number,
): Float32Array {
  const out = new Float32Array(count);
  forEachUniform(name, count, seed, (i, u) => out[i] = map(u));
  return out;
}

/** How each kind of state-dict entry maps `u`; `fanIn` is the product of a weight's shape after dim 0. */
function mapping(name: string, shape: readonly number[]): (u: number) => number {
  const leaf = name.slice(name.lastIndexOf(".") + 1);
  if (leaf === "weight" && shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const bound = Math.sqrt(fanIn);
    return (u) => (u - 0.5) * 2 / bound;
  }
  if (leaf === "weight") return (u) => 0.75 + 0.5 * u;
  if (leaf === "bias") return (u) => (u - 0.5) * 0.2;
  if (leaf === "running_mean") return (u) => (u - 0.5) * 0.4;
  if (leaf === "running_var") return (u) => 0.5 + u;
  throw new Error(`no deterministic rule for "${name}"`);
}

/**
 * One deterministic state-dict entry: conv/linear weights `(u - 0.5) * 2 / sqrt(fanIn)`, BatchNorm weights
 * `0.75 + 0.5u`, biases `(u - 0.5) * 0.2`, running means `(u - 0.5) * 0.4`, running variances `0.5 + u`,
 * and `num_batches_tracked` (an int64 scalar) `fmix32(x_0) mod 1000`.
 */
export function deterministicTensor(name: string, shape: readonly number[], seed: number): TensorData {
  const count = shape.reduce((a, b) => a * b, 1);
  if (name.endsWith("num_batches_tracked")) {
    const data = new BigInt64Array(count);
    forEachUniform(name, count, seed, (i, u) => data[i] = BigInt(u * 4294967296 % 1000));
    return { shape: [...shape], dtype: "I64", data };
  }
  return {
    shape: [...shape],
    dtype: "F32",
    data: deterministicFloats(name, count, seed, mapping(name, shape)),
  };
}

/**
 * A state dict of deterministic tensors, identical to the one `tools/make_fixtures.py` builds for the same
 * names, shapes and seed (the order of `entries` does not matter: each tensor's values depend only on its
 * name, shape and `seed`).
 *
 * @example
 * ```ts
 * import { deterministicStateDict } from "./_weights.ts";
 * const dict = deterministicStateDict([["fc.weight", [10, 64]], ["fc.bias", [10]]], 1);
 * ```
 */
export function deterministicStateDict(entries: Array<[string, readonly number[]]>, seed: number): StateDict {
  return new Map(entries.map(([name, shape]) => [name, deterministicTensor(name, shape, seed)]));
}

/** A deterministic input batch (NCHW float32) with values `(u - 0.5) * 2` in [-1, 1), drawn as tensor "input". */
export function deterministicInput(shape: readonly number[], seed: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  return deterministicFloats("input", count, seed, (u) => (u - 0.5) * 2);
}

/** `count` deterministic class labels `floor(u * classes)`, drawn as tensor "labels". */
export function deterministicLabels(count: number, classes: number, seed: number): Int32Array {
  return Int32Array.from(deterministicUniform("labels", count, seed), (u) => Math.floor(u * classes));
}
