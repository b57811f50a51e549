/**
 * Deterministic randomness of the input pipeline: the per-epoch shuffle and the per-sample augmentation
 * draws, made on the host for both the CPU and the GPU pipeline (whose kernels read the windows drawn).
 *
 * @module
 */

/** Index of the draw that picks the crop's top row. */
export const DRAW_CROP_TOP = 0;
/** Index of the draw that picks the crop's left column. */
export const DRAW_CROP_LEFT = 1;
/** Index of the draw whose lowest bit decides the horizontal flip. */
export const DRAW_FLIP = 2;
/** Index of the draw that picks the Cutout square's centre row. */
export const DRAW_CUTOUT_Y = 3;
/** Index of the draw that picks the Cutout square's centre column. */
export const DRAW_CUTOUT_X = 4;
/** Index of the draw that picks a RandomResizedCrop window's top row (`src/data/transforms.ts`). */
export const DRAW_RESIZED_CROP_TOP = 5;
/** Index of the draw that picks a RandomResizedCrop window's left column. */
export const DRAW_RESIZED_CROP_LEFT = 6;
/**
 * First of RandomResizedCrop's 20 draws: its attempt `a` (0 to 9) draws the area from index `7 + 2a` and
 * the aspect ratio from `8 + 2a`, so indices 7 to 26 are taken.
 */
export const DRAW_RESIZED_CROP_ATTEMPTS = 7;

const GOLDEN = 0x9e3779b9;
// Distinct constants keep the shuffle's stream independent of the augmentation seeds of the same epoch.
const SHUFFLE_DOMAIN = 0x5bd1e995;
const SAMPLE_DOMAIN = 0x27d4eb2f;

/**
 * A bijective 32-bit integer hash ("lowbias32", Chris Wellons), written with the operations WGSL's u32
 * arithmetic performs identically.
 *
 * @example
 * ```ts
 * import { mix32 } from "@denogpu/resnet/data";
 * mix32(1); // always the same u32
 * ```
 */
export function mix32(value: number): number {
  let x = value >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Folds any non-negative safe integer seed into 32 bits; seeds below 2^32 keep their low word distinct.
 *
 * @example
 * ```ts
 * import { seed32 } from "@denogpu/resnet/data";
 * console.log(seed32(5)); // 5
 * console.log(seed32(2 ** 32) !== seed32(0)); // true: the high word is mixed in
 * ```
 *
 * @throws {RangeError} When `seed` is negative, fractional or beyond `Number.MAX_SAFE_INTEGER`.
 */
export function seed32(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  }
  const low = seed % 0x100000000;
  const high = Math.floor(seed / 0x100000000);
  return (low ^ (high === 0 ? 0 : mix32(high + GOLDEN))) >>> 0;
}

/**
 * The seed of one sample's augmentation: a hash of the run's seed, the epoch and the sample's position in
 * the epoch (`batch * batchSize + slot`). {@linkcode GpuBatcher} writes it next to the sample's index.
 *
 * @example
 * ```ts
 * import { sampleSeed } from "@denogpu/resnet/data";
 * const seed = sampleSeed(42, 0, 5); // sample 5 of epoch 0 under seed 42: a u32, the same on every call
 * ```
 *
 * @throws {RangeError} When `seed` is negative, fractional or beyond `Number.MAX_SAFE_INTEGER`.
 */
export function sampleSeed(seed: number, epoch: number, position: number): number {
  const h = mix32((seed32(seed) ^ SAMPLE_DOMAIN) >>> 0);
  return mix32((mix32((h ^ epoch) >>> 0) + position) >>> 0);
}

/**
 * Draw number `k` of a sample's augmentation: `mix32(sampleSeed + (k + 1) * 0x9e3779b9)` in u32 math.
 *
 * @example
 * ```ts
 * import { draw, sampleSeed } from "@denogpu/resnet/data";
 * const flip = (draw(sampleSeed(42, 0, 5), 2) & 1) === 1; // draw 2's lowest bit decides the flip
 * ```
 */
export function draw(sampleSeedValue: number, k: number): number {
  return mix32((sampleSeedValue + Math.imul(k + 1, GOLDEN)) >>> 0);
}

/**
 * The order in which an epoch visits `count` samples: `0, 1, ...` without shuffling, else a Fisher-Yates
 * permutation from a generator seeded by `(seed, epoch)`.
 *
 * @example
 * ```ts
 * import { epochOrder } from "@denogpu/resnet/data";
 * const order = epochOrder(10, true, 42, 0); // a permutation of 0..9, the same on every call
 * ```
 */
export function epochOrder(count: number, shuffle: boolean, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (!shuffle) return order;
  let state = mix32((mix32((seed32(seed) ^ SHUFFLE_DOMAIN) >>> 0) ^ epoch) >>> 0);
  for (let i = count - 1; i > 0; i--) {
    state = (state + GOLDEN) >>> 0;
    const j = Math.floor((mix32(state) / 0x100000000) * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
