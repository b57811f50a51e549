/**
 * The in-memory image data set every reader produces and the input pipeline consumes: images as bytes in
 * CHW order, one label per image, and the class names.
 *
 * @module
 */

/**
 * Image bytes kept outside memory, e.g. in a decoded-cache file, read a run of whole images at a time, so
 * that a data set larger than memory can be trained on.
 */
export interface StoredImages {
  /** Bytes in all. */
  readonly length: number;
  /** A name for messages: the file. */
  readonly source: string;
  /** An identity of the bytes (e.g. a hash of the files decoded into them), for `datasetFingerprint`. */
  readonly fingerprint: string;
  /** Reads bytes `[begin, end)`. */
  read(begin: number, end: number): Uint8Array;
  /** Bytes `[begin, end)` as another store, reading nothing. */
  slice(begin: number, end: number): StoredImages;
}

/** Where a data set's bytes are: in memory, or stored (see {@linkcode StoredImages}). */
export type ImageBytes = Uint8Array | StoredImages;

/**
 * Images as bytes, CHW per image (R plane, G plane, B plane, each row-major), and labels. `Images` says
 * where the bytes are; readers that always hold them in memory (CIFAR, the synthetic shapes) say
 * `Uint8Array`. Images are all `width` x `height`, or each of its own size (see `sizes`).
 */
export interface ImageDataset<Images extends ImageBytes = ImageBytes> {
  /** `count * channels * height * width` bytes, image after image. */
  images: Images;
  /** One class index per image, each below `classes.length`. */
  labels: Uint8Array | Uint16Array;
  /** Number of images. */
  count: number;
  /** Channels per image (3 for RGB). */
  channels: number;
  /** Rows per image; with `sizes`, the most rows of any. */
  height: number;
  /** Columns per image; with `sizes`, the most columns of any. */
  width: number;
  /**
   * Images of their own sizes (an image folder's training split keeps each photo's aspect ratio): the
   * columns and rows of each image, two values per image. Image `i`'s CHW planes at its own size begin
   * its slot of `slotBytes`. Without it every image is `width` x `height`.
   */
  sizes?: Uint16Array;
  /** Bytes from one image's start to the next's. @default {channels * height * width} */
  slotBytes?: number;
  /** Class names, indexed by label. */
  classes: string[];
  /** Per-channel mean of the pixel values scaled to [0, 1], the pipeline's default normalisation. */
  mean?: readonly number[];
  /** Per-channel standard deviation of the pixel values scaled to [0, 1]. */
  std?: readonly number[];
}

/** What {@linkcode imageDataset} needs: everything of an {@linkcode ImageDataset} but the count. */
export type ImageDatasetInit<Images extends ImageBytes = ImageBytes> = Omit<ImageDataset<Images>, "count">;

/**
 * Checks an in-memory data set (sizes agree, labels in range, statistics well formed) and returns it with
 * its count, so that any small-image data set can feed {@linkcode GpuBatcher} and {@linkcode cpuBatch}.
 *
 * @example
 * ```ts
 * import { imageDataset } from "@denogpu/resnet";
 * const data = imageDataset({
 *   images: new Uint8Array(2 * 3 * 4 * 4),
 *   labels: new Uint8Array([0, 1]),
 *   channels: 3, height: 4, width: 4,
 *   classes: ["cat", "dog"],
 * });
 * data.count; // 2
 * ```
 */
export function imageDataset<Images extends ImageBytes>(
  init: ImageDatasetInit<Images>,
  name = "data set",
): ImageDataset<Images> {
  const { images, labels, channels, height, width, classes } = init;
  for (const [what, value] of [["channels", channels], ["height", height], ["width", width]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name}: ${what} must be a positive integer, got ${value}`);
    }
  }
  if (classes.length < 1) throw new RangeError(`${name}: at least one class name is needed`);
  const count = labels.length;
  const slot = init.slotBytes ?? channels * height * width;
  if (!Number.isInteger(slot) || slot < 1) {
    throw new RangeError(`${name}: slotBytes must be a positive integer, got ${slot}`);
  }
  if (images.length !== count * slot) {
    throw new RangeError(
      `${name}: ${images.length} image bytes do not hold ${count} images of ` +
        (init.slotBytes === undefined ? `${channels}x${height}x${width}` : `${slot} bytes`) +
        ` (expected ${count * slot})`,
    );
  }
  checkSizes(init, count, slot, name);
  for (let i = 0; i < count; i++) {
    if (labels[i] >= classes.length) {
      throw new RangeError(
        `${name}: image ${i} has label ${labels[i]}, expected 0..${classes.length - 1}`,
      );
    }
  }
  for (const [what, values] of [["mean", init.mean], ["std", init.std]] as const) {
    if (values === undefined) continue;
    if (values.length !== channels || values.some((v) => !Number.isFinite(v))) {
      throw new RangeError(`${name}: ${what} must hold ${channels} finite numbers, got [${values}]`);
    }
  }
  if (init.std?.some((v) => v <= 0)) throw new RangeError(`${name}: std must be positive, got [${init.std}]`);
  return { ...init, count };
}

function checkSizes(init: ImageDatasetInit, count: number, slot: number, name: string): void {
  const { sizes, channels, height, width } = init;
  if (sizes === undefined) {
    if (slot < channels * height * width) {
      throw new RangeError(
        `${name}: slots of ${slot} bytes do not hold ${channels}x${height}x${width} images`,
      );
    }
    return;
  }
  if (sizes.length !== 2 * count) {
    throw new RangeError(`${name}: sizes must hold 2 values per image (${2 * count}), got ${sizes.length}`);
  }
  for (let i = 0; i < count; i++) {
    const w = sizes[2 * i], h = sizes[2 * i + 1];
    if (w < 1 || h < 1 || w > width || h > height || channels * w * h > slot) {
      throw new RangeError(
        `${name}: image ${i} is ${w}x${h}, expected at least 1x1, at most ${width}x${height} and ` +
          `${slot} bytes`,
      );
    }
  }
}

/**
 * Bytes from one image's start to the next's (see {@linkcode ImageDataset.slotBytes}).
 *
 * @example
 * ```ts
 * import { imageDataset, imageSlotBytes } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array(2 * 3 * 4 * 4), labels: new Uint8Array([0, 1]), channels: 3, height: 4, width: 4,
 *   classes: ["a", "b"],
 * });
 * console.log(imageSlotBytes(data)); // 48
 * ```
 */
export function imageSlotBytes(dataset: ImageDatasetInit): number {
  return dataset.slotBytes ?? dataset.channels * dataset.height * dataset.width;
}

/**
 * The columns and rows of image `index`: its own (see {@linkcode ImageDataset.sizes}), else the data
 * set's.
 *
 * @example
 * ```ts
 * import { imageDataset, imageSize } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array(2 * 3 * 4 * 4), labels: new Uint8Array([0, 1]), channels: 3, height: 4, width: 4,
 *   sizes: Uint16Array.of(4, 3, 2, 4), classes: ["a", "b"],
 * });
 * console.log(imageSize(data, 0)); // { width: 4, height: 3 }
 * ```
 */
export function imageSize(dataset: ImageDataset, index: number): { width: number; height: number } {
  const { sizes } = dataset;
  return sizes
    ? { width: sizes[2 * index], height: sizes[2 * index + 1] }
    : { width: dataset.width, height: dataset.height };
}

/**
 * The first `count` images of a data set, with their labels and sizes (reading nothing from a stored one).
 *
 * @example
 * ```ts
 * import { datasetHead, imageDataset } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array(10 * 3), labels: new Uint8Array(10),
 *   channels: 3, height: 1, width: 1, classes: ["a"],
 * });
 * console.log(datasetHead(data, 3, "first three").count); // 3
 * ```
 */
export function datasetHead(dataset: ImageDataset, count: number, name = "data set"): ImageDataset {
  const end = count * imageSlotBytes(dataset);
  return imageDataset({
    ...dataset,
    images: dataset.images instanceof Uint8Array
      ? dataset.images.subarray(0, end)
      : dataset.images.slice(0, end),
    labels: dataset.labels.subarray(0, count),
    sizes: dataset.sizes?.subarray(0, 2 * count),
  }, name);
}

/**
 * The bytes of `count` images from image `first` on: a view of an in-memory data set, or read from a
 * stored one.
 *
 * @example
 * ```ts
 * import { imageBytes, imageDataset } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array([1, 2, 3, 4, 5, 6]), labels: new Uint8Array([0, 1]),
 *   channels: 3, height: 1, width: 1, classes: ["a", "b"],
 * });
 * console.log(imageBytes(data, 1, 1)); // Uint8Array(3) [4, 5, 6]
 * ```
 */
export function imageBytes(dataset: ImageDataset, first: number, count: number): Uint8Array {
  const size = imageSlotBytes(dataset);
  const { images } = dataset;
  return images instanceof Uint8Array
    ? images.subarray(first * size, (first + count) * size)
    : images.read(first * size, (first + count) * size);
}

/** Both splits of the data a run trains and tests on, and where they came from. */
export interface DatasetSplits<Images extends ImageBytes = ImageBytes> {
  /** The training split. */
  train: ImageDataset<Images>;
  /** The test split (an image folder's validation images). */
  test: ImageDataset<Images>;
  /** A short name for titles: `cifar10`, `cifar100`, `synthetic` or the image folder's name. */
  name: string;
  /** What was read, for the log: the archive or folder, or the generator and its seed. */
  source: string;
  /** Things worth telling the user. */
  warnings: string[];
}

/**
 * A SHA-256 over a data set's shape, class names, labels and image bytes (hex), so that a run can tell
 * the data it was trained on from any other, whatever path it was read from.
 *
 * @example
 * ```ts
 * import { datasetFingerprint, imageDataset } from "@denogpu/resnet/data";
 * const data = imageDataset({
 *   images: new Uint8Array(2 * 3 * 4 * 4), labels: new Uint8Array([0, 1]), channels: 3, height: 4, width: 4,
 *   classes: ["cat", "dog"],
 * });
 * console.log((await datasetFingerprint(data)).length); // 64
 * ```
 */
export async function datasetFingerprint(dataset: ImageDataset): Promise<string> {
  const { count, channels, height, width, classes, labels } = dataset;
  const header = new TextEncoder().encode(JSON.stringify({ count, channels, height, width, classes }) + "\n");
  const sizes = dataset.sizes ?? new Uint16Array();
  // A stored data set is named by its own fingerprint: hashing it would read it all.
  const images = dataset.images instanceof Uint8Array
    ? dataset.images
    : new TextEncoder().encode(`stored ${dataset.images.fingerprint}`);
  const parts = [header, labels, sizes, images].map((part) =>
    new Uint8Array(part.buffer, part.byteOffset, part.byteLength)
  );
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((at, part) => (whole.set(part, at), at + part.length), 0);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
