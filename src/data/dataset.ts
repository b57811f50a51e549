/**
 * The in-memory image data set every reader produces and the input pipeline consumes: images as bytes in
 * CHW order, one label per image, and the class names.
 *
 * @module
 */

/** Images as bytes, CHW per image (R plane, G plane, B plane, each row-major), and labels. */
export interface ImageDataset {
  /** `count * channels * height * width` bytes, image after image. */
  images: Uint8Array;
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
export type ImageDatasetInit = Omit<ImageDataset, "count">;

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
export function imageDataset(init: ImageDatasetInit, name = "data set"): ImageDataset {
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

/** Both splits of the data a run trains and tests on, and where they came from. */
export interface DatasetSplits {
  /** The training split. */
  train: ImageDataset;
  /** The test split (an image folder's validation images). */
  test: ImageDataset;
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
  const { count, channels, height, width, classes, labels, images } = dataset;
  const header = new TextEncoder().encode(JSON.stringify({ count, channels, height, width, classes }) + "\n");
  const labelBytes = new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength);
  const whole = new Uint8Array(header.length + labelBytes.length + images.length);
  whole.set(header);
  whole.set(labelBytes, header.length);
  whole.set(images, header.length + labelBytes.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
