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
 * `Uint8Array`.
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
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
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
  const imageBytes = channels * height * width;
  if (images.length !== count * imageBytes) {
    throw new RangeError(
      `${name}: ${images.length} image bytes do not hold ${count} images of ${channels}x${height}x${width} ` +
        `(expected ${count * imageBytes})`,
    );
  }
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
  const size = dataset.channels * dataset.height * dataset.width;
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
  const labelBytes = new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength);
  // A stored data set is named by its own fingerprint: hashing it would read it all.
  const images = dataset.images instanceof Uint8Array
    ? dataset.images
    : new TextEncoder().encode(`stored ${dataset.images.fingerprint}`);
  const whole = new Uint8Array(header.length + labelBytes.length + images.length);
  whole.set(header);
  whole.set(labelBytes, header.length);
  whole.set(images, header.length + labelBytes.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
