/**
 * Batch options and what both input pipelines derive from them: the checked augmentation settings, the
 * normalisation table, the number of batches per epoch and the samples (with their augmentation seeds) of
 * each batch.
 *
 * @module
 */

import type { ImageDataset } from "./dataset.ts";
import { CIFAR_LAYOUTS } from "./cifar_layout.ts";
import { epochOrder, sampleSeed } from "./random.ts";

/** Which augmentations a training batch gets. */
export interface AugmentOptions {
  /**
   * How each sample's window is chosen:
   * - `"random"`: torchvision's `RandomCrop(size, padding)`, a window of the batch's size anywhere in the
   *   image padded by `padding`;
   * - `"resized"`: `RandomResizedCrop(size, scale, ratio)`, a random window resized to the batch's size;
   * - `"centre"`: no random crop, as evaluation batches are made (see {@linkcode BatchOptions.size}).
   *
   * @default {"random"}
   */
  crop?: "random" | "resized" | "centre";
  /**
   * Pixels added on every side before the random crop (torchvision's `RandomCrop(32, padding=4)`). 4 by
   * default for images of the batch's size, else 0 (a random crop of a larger working image).
   *
   * @default {4}
   */
  padding?: number;
  /**
   * `"zero"` pads with black pixels (torchvision's default), `"reflect"` mirrors the border. Default zero.
   *
   * @default {"zero"}
   */
  paddingMode?: "zero" | "reflect";
  /**
   * Random horizontal flip with probability 1/2. Default true.
   *
   * @default {true}
   */
  flip?: boolean;
  /**
   * Side of the Cutout square (DeVries & Taylor), zeroed after normalisation; 0 (default) turns it off.
   *
   * @default {0}
   */
  cutout?: number;
  /**
   * The resized crop's range of areas, as fractions of the image's (torchvision's default).
   *
   * @default {[0.08, 1]}
   */
  scale?: readonly [number, number];
  /**
   * The resized crop's range of aspect ratios, width over height, drawn log-uniformly.
   *
   * @default {[3 / 4, 4 / 3]}
   */
  ratio?: readonly [number, number];
}

/** How batches are drawn from a data set. */
export interface BatchOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Visit the samples in a new seeded order every epoch. */
  shuffle: boolean;
  /** `true` for crop (padding 4) and flip, `false` for none (evaluation), or the details. */
  augment: boolean | AugmentOptions;
  /** Seed of the shuffle and the augmentations: the same seed gives the same batches. */
  seed: number;
  /** Drop the last batch when it is short, instead of padding it. */
  dropLast: boolean;
  /**
   * Side of the square images of a batch; the data set's own size by default. Without a random crop, a
   * larger data-set image gives its centre window (torchvision's `CenterCrop`) and a smaller one is
   * resized whole (`Resize`), e.g. CIFAR's 32x32 images for ImageNet weights.
   */
  size?: number;
  /** Per-channel mean of pixels scaled to [0, 1]; the data set's own, else CIFAR-10's. */
  mean?: readonly number[];
  /** Per-channel standard deviation of pixels scaled to [0, 1]; the data set's own, else CIFAR-10's. */
  std?: readonly number[];
}

/** Everything the pipelines need, checked once. */
export interface BatchPlan {
  /** Samples per batch. */
  batchSize: number;
  /** Whether epochs are shuffled. */
  shuffle: boolean;
  /** The seed. */
  seed: number;
  /** Batches per epoch after dropping or keeping the short last one. */
  batchesPerEpoch: number;
  /** Channels of each image. */
  channels: number;
  /** Rows of each batch image. */
  height: number;
  /** Columns of each batch image. */
  width: number;
  /** Rows of each data-set image (the most, for images of their own sizes). */
  sourceHeight: number;
  /** Columns of each data-set image (the most, for images of their own sizes). */
  sourceWidth: number;
  /**
   * `"crop"`: a window of the batch's size, random or centred, copied (`shaders/augment.wgsl`);
   * `"resize"`: a window resized to the batch's size (`shaders/resized_crop.wgsl`).
   */
  kind: "crop" | "resize";
  /** A `"crop"` plan's window: anywhere in the padded image, or the centre. */
  randomCrop: boolean;
  /** A `"resize"` plan's window: RandomResizedCrop's, or the whole image. */
  resizedCrop?: { scale: readonly [number, number]; ratio: readonly [number, number] };
  /** Crop padding in pixels. */
  padding: number;
  /** Reflect instead of zero padding. */
  reflect: boolean;
  /** Random horizontal flips. */
  flip: boolean;
  /** Cutout side (0: none). */
  cutout: number;
  /** `table[c * 256 + byte]`: the normalised value of `byte` in channel `c`. */
  table: Float32Array;
}

/** The samples of one batch. */
export interface BatchSelection {
  /** Real samples in the batch (the rest of the slots are padding). */
  count: number;
  /** Data-set index of each slot (0 for padding). */
  indices: Uint32Array;
  /** Augmentation seed of each slot (0 for padding). */
  seeds: Uint32Array;
}

/**
 * Checks `options` against `dataset` and derives the {@linkcode BatchPlan}.
 *
 * @example
 * ```ts
 * import { imageDataset, planBatches } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array(10 * 3 * 4 * 4), labels: new Uint8Array(10), channels: 3, height: 4, width: 4,
 *   classes: ["a"],
 * });
 * const plan = planBatches(data, { batchSize: 4, shuffle: true, augment: true, seed: 0, dropLast: false });
 * console.log(plan.batchesPerEpoch, plan.padding, plan.flip); // 3 4 true
 * ```
 *
 * @throws {RangeError} When the batch size, seed or augmentation settings are out of range, the data set
 * makes no batch, or the mean and std do not fit its channels.
 */
export function planBatches(dataset: ImageDataset, options: BatchOptions): BatchPlan {
  const { batchSize, shuffle, seed, dropLast } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  }
  const batchesPerEpoch = dropLast
    ? Math.floor(dataset.count / batchSize)
    : Math.ceil(dataset.count / batchSize);
  if (batchesPerEpoch === 0) {
    throw new RangeError(
      `a data set of ${dataset.count} samples makes no batch of ${batchSize}` +
        (dropLast && dataset.count > 0 ? " when the short last batch is dropped" : ""),
    );
  }
  const augment = options.augment === true ? {} : options.augment === false ? undefined : options.augment;
  const { channels, height: sourceHeight, width: sourceWidth } = dataset;
  const size = options.size;
  if (size !== undefined && !(Number.isInteger(size) && size > 0)) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  const height = size ?? sourceHeight, width = size ?? sourceWidth;
  const sameSize = height === sourceHeight && width === sourceWidth;
  const crop = augment ? augment.crop ?? "random" : "centre";
  if (!["random", "resized", "centre"].includes(crop)) {
    throw new RangeError(`augment.crop must be "random", "resized" or "centre", got "${crop}"`);
  }
  const padding = crop === "random" ? augment?.padding ?? (sameSize ? 4 : 0) : 0;
  if (augment?.padding !== undefined && crop !== "random") {
    throw new RangeError(`augment.padding applies to the random crop, not to crop "${crop}"`);
  }
  const reflect = (augment?.paddingMode ?? "zero") === "reflect";
  const flip = augment ? augment.flip ?? true : false;
  const cutout = augment?.cutout ?? 0;
  if (!Number.isInteger(padding) || padding < 0) {
    throw new RangeError(`augment.padding must be a non-negative integer, got ${padding}`);
  }
  if (augment?.paddingMode !== undefined && !["zero", "reflect"].includes(augment.paddingMode)) {
    throw new RangeError(`augment.paddingMode must be "zero" or "reflect", got "${augment.paddingMode}"`);
  }
  const least = smallestImage(dataset);
  if (reflect && padding >= Math.min(least.height, least.width)) {
    throw new RangeError(
      `reflect padding of ${padding} needs images larger than ${padding} pixels, got ${least.width}x${least.height}`,
    );
  }
  if (!Number.isInteger(cutout) || cutout < 0) {
    throw new RangeError(`augment.cutout must be a non-negative integer, got ${cutout}`);
  }
  const smaller = least.height < height || least.width < width;
  if (crop === "random" && (least.height + 2 * padding < height || least.width + 2 * padding < width)) {
    throw new RangeError(
      `a random crop of ${width}x${height} does not fit the data set's ${least.width}x${least.height} images ` +
        `padded by ${padding}; use the resized crop (randomresizedcrop), which scales them`,
    );
  }
  const kind = crop === "resized" || (crop === "centre" && smaller) ? "resize" : "crop";
  if (kind === "resize" && (channels !== 3 || height !== width)) {
    throw new RangeError(
      `resizing makes square RGB images, not ${channels} channels of ${width}x${height}; give a size`,
    );
  }
  let resizedCrop: BatchPlan["resizedCrop"];
  if (crop === "resized") {
    const scale = augment?.scale ?? [0.08, 1];
    const ratio = augment?.ratio ?? [3 / 4, 4 / 3];
    if (!(scale.length === 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) {
      throw new RangeError(`augment.scale must be a range 0 < low <= high <= 1, got [${scale}]`);
    }
    if (!(ratio.length === 2 && ratio[0] > 0 && ratio[0] <= ratio[1] && Number.isFinite(ratio[1]))) {
      throw new RangeError(`augment.ratio must be a range 0 < low <= high, got [${ratio}]`);
    }
    resizedCrop = { scale, ratio };
  }
  const table = normalisationTable(channels, options.mean ?? dataset.mean, options.std ?? dataset.std);
  return {
    batchSize,
    shuffle,
    seed,
    batchesPerEpoch,
    channels,
    height,
    width,
    sourceHeight,
    sourceWidth,
    kind,
    randomCrop: crop === "random",
    resizedCrop,
    padding,
    reflect,
    flip,
    cutout,
    table,
  };
}

/** The fewest columns and the fewest rows of any image of the data set. */
function smallestImage(dataset: ImageDataset): { width: number; height: number } {
  const { sizes } = dataset;
  if (!sizes) return { width: dataset.width, height: dataset.height };
  let width = dataset.width, height = dataset.height;
  for (let i = 0; i < sizes.length; i += 2) {
    width = Math.min(width, sizes[i]);
    height = Math.min(height, sizes[i + 1]);
  }
  return { width, height };
}

/**
 * `table[c * 256 + byte] = (byte / 255 - mean[c]) / std[c]`, computed in float64 and rounded once to f32:
 * both pipelines look values up here, so they normalise bit for bit alike.
 *
 * @example
 * ```ts
 * import { normalisationTable } from "@denogpu/resnet/data";
 * const table = normalisationTable(1, [0.5], [0.5]);
 * console.log(table.length, table[0], table[255]); // 256 -1 1
 * ```
 *
 * @throws {RangeError} When `mean` or `std` is missing for other than 3 channels (CIFAR-10's are used for
 * 3), has other than `channels` values, or a std is not positive or a mean not finite.
 */
export function normalisationTable(
  channels: number,
  mean: readonly number[] | undefined,
  std: readonly number[] | undefined,
): Float32Array {
  const cifar = CIFAR_LAYOUTS.cifar10;
  if ((mean === undefined || std === undefined) && channels !== 3) {
    throw new RangeError(`mean and std are needed for images of ${channels} channels`);
  }
  const m = mean ?? cifar.mean;
  const s = std ?? cifar.std;
  if (m.length !== channels || s.length !== channels) {
    throw new RangeError(`mean and std need ${channels} values each, got [${m}] and [${s}]`);
  }
  if (s.some((v) => !(v > 0)) || m.some((v) => !Number.isFinite(v))) {
    throw new RangeError(`std must be positive and mean finite, got mean [${m}], std [${s}]`);
  }
  const table = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    for (let byte = 0; byte < 256; byte++) table[c * 256 + byte] = (byte / 255 - m[c]) / s[c];
  }
  return table;
}

/** The samples of `batch` of an epoch visiting the data set in `order`. */
export function selectBatch(
  plan: BatchPlan,
  order: Uint32Array,
  epoch: number,
  batch: number,
): BatchSelection {
  checkEpoch(epoch);
  if (!Number.isInteger(batch) || batch < 0 || batch >= plan.batchesPerEpoch) {
    throw new RangeError(`batch must be an integer in 0..${plan.batchesPerEpoch - 1}, got ${batch}`);
  }
  const { batchSize, seed } = plan;
  const first = batch * batchSize;
  const count = Math.min(batchSize, order.length - first);
  const indices = new Uint32Array(batchSize);
  const seeds = new Uint32Array(batchSize);
  for (let slot = 0; slot < count; slot++) {
    indices[slot] = order[first + slot];
    seeds[slot] = sampleSeed(seed, epoch, first + slot);
  }
  return { count, indices, seeds };
}

/** The order an epoch visits the plan's `count` samples in. */
export function planOrder(plan: BatchPlan, count: number, epoch: number): Uint32Array {
  checkEpoch(epoch);
  return epochOrder(count, plan.shuffle, plan.seed, epoch);
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new RangeError(`epoch must be an integer in 0..2^32-1, got ${epoch}`);
  }
}
