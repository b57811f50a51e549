/**
 * An image folder as a data set: every image decoded once (in a pool of workers) and kept as bytes, in
 * memory when the split fits `maxHostBytes`, else in its decoded-cache file, read a chunk or a batch at a
 * time; later runs read the cache instead of decoding again. The GPU batcher crops, flips and normalises
 * the bytes as it does CIFAR's. Validation images are stored as torchvision's evaluation transform makes
 * them (shorter side resized to `size * 256 / 224`, centre crop of `size`); training images as that
 * resize with their aspect ratio kept up to 4:3 (a wider image's longer side centre-cropped to about 4/3
 * of the shorter): the working image that `RandomResizedCrop` or a random crop chooses from (below 64
 * pixels, the centre `size` x `size` square, as CIFAR's crop wants). A split in memory takes a slot of
 * `3 * 256 * 341` bytes per training image at 224 (256 KiB) and `3 * 224 * 224` per validation image; a
 * stored one none but the chunk or batch being read. Decoding holds each worker's two files in hand and
 * at most 8 crops per worker that overtook a slower file.
 *
 * @module
 */

import { basename } from "node:path";
import { type DatasetSplits, type ImageDataset, imageDataset } from "./dataset.ts";
import { decodeSplit } from "./decoded_cache.ts";
import { defaultCacheDir } from "../io/cache.ts";
import { type ImageProblem, problemsWarning } from "./image_files.ts";
import { type ImageEntry, readImageFolder } from "./image_folder.ts";
import { evalResizeSize, IMAGENET_NORMALISATION, type StoredCrop, storedCropBytes } from "./transforms.ts";

/**
 * The most pixels of the longer side a training image keeps at a shorter side of `working`: a 4:3 photo
 * whole, a wider one's centre 4:3; below 64 pixels the centre square, which CIFAR's padded crop expects.
 */
function workingLongest(working: number): number {
  return working < 64 ? working : Math.floor(working * 4 / 3);
}

/** Options of {@linkcode loadImageFolder}. */
export interface LoadImageFolderOptions {
  /**
   * Side of the square images the model takes.
   *
   * @default {224}
   */
  size?: number;
  /** Without `train/` and `val/` folders: the fraction of each class held out. @default {0.1} */
  valSplit?: number;
  /** Seeds which images are held out. @default {0} */
  seed?: number;
  /** Refuse the first bad file instead of skipping bad files with one warning. @default {false} */
  strict?: boolean;
  /**
   * Workers decoding the images, each on a core of its own (JPEG decoding is most of the loading time).
   *
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
  /**
   * The folder of decoded caches: each split's crops are written there once and read back by later
   * runs instead of decoding again (a changed, added or removed file makes a new cache); `false` to
   * decode every time.
   *
   * @default {defaultCacheDir()}
   */
  cache?: string | false;
  /**
   * Largest split kept in memory, in bytes; a larger one stays in its cache file and is read a chunk or
   * a batch at a time.
   *
   * @default {a quarter of the machine's memory}
   */
  maxHostBytes?: number;
}

/**
 * Reads an image folder (`root/<class>/<image>`, or `train/` and `val/` folders) into both splits at
 * `size` x `size`, normalised by default with ImageNet's statistics, which pretrained weights expect.
 *
 * @example
 * ```ts ignore
 * import { loadImageFolder } from "@denogpu/resnet/data";
 * const { train, test, warnings } = await loadImageFolder("photos", { size: 64 });
 * for (const warning of warnings) console.warn(warning);
 * console.log(train.count, test.count, train.classes);
 * ```
 *
 * @throws {Error} When the folder is not laid out as an image folder, the validation split would be
 * empty, or (with `strict`) a file cannot be decoded; every message names the folder or file.
 */
export async function loadImageFolder(
  root: string,
  options: LoadImageFolderOptions = {},
): Promise<DatasetSplits> {
  const { size = 224, strict = false, cache = defaultCacheDir() } = options;
  const folder = await readImageFolder(root, { valSplit: options.valSplit, seed: options.seed });
  if (folder.val.length === 0) {
    throw new Error(`${root}: no validation images; give a valSplit above 0 or a val/ folder`);
  }
  const problems: ImageProblem[] = [];
  const cachedSplits: string[] = [];
  const split = async (
    entries: ImageEntry[],
    name: string,
    crop: StoredCrop,
    shape: { height: number; width: number; keepsSizes: boolean },
  ): Promise<ImageDataset> => {
    const decoded = await decodeSplit(entries, {
      crop,
      strict,
      workers: options.workers,
      cacheDir: cache === false ? undefined : cache,
      maxHostBytes: options.maxHostBytes,
    });
    const { kept } = decoded;
    problems.push(...decoded.problems);
    if (decoded.cached) cachedSplits.push(name);
    if (kept.length === 0) throw new Error(`${root}: no image of the ${name} split could be decoded`);
    const labels = folder.classes.length <= 256 ? new Uint8Array(kept.length) : new Uint16Array(kept.length);
    kept.forEach((entry, i) => labels[i] = entry.label);
    return imageDataset({
      images: decoded.images,
      labels,
      channels: 3,
      height: shape.height,
      width: shape.width,
      ...shape.keepsSizes ? { sizes: decoded.sizes, slotBytes: storedCropBytes(crop) } : {},
      classes: folder.classes,
      ...IMAGENET_NORMALISATION,
    }, `${root} ${name} split`);
  };
  // The training images are kept with their aspect ratio (up to 4:3) at the evaluation resize's shorter
  // side, the working image the crops choose from; the validation images as the evaluation transform
  // makes them.
  const working = size < 64 ? size : evalResizeSize(size);
  const longest = workingLongest(working);
  const keepsSizes = longest !== working;
  const train = await split(
    folder.train,
    "training",
    keepsSizes ? { resize: working, longest } : { size: working, resize: working },
    { height: longest, width: longest, keepsSizes },
  );
  const test = await split(folder.val, "validation", { size }, {
    height: size,
    width: size,
    keepsSizes: false,
  });
  const warning = problemsWarning(problems);
  const layout = folder.split.kind === "folders"
    ? `its train/ and ${basename(folder.split.val)}/ folders`
    : `${Math.round(folder.split.valSplit * 100)}% of each class held out`;
  return {
    train,
    test,
    name: basename(root.replace(/[\\/]+$/, "")) || root,
    source: `image folder ${root} (${folder.classes.length} classes, ${train.count} training and ` +
      `${test.count} validation images, ${layout}, at ${size}x${size}` +
      (longest === size ? "" : `; training images kept at a shorter side of ${working}, the longer at most ` +
        `${longest}, for the crops`) +
      (cachedSplits.length ? `; ${cachedSplits.join(" and ")} split read from the decoded cache)` : ")"),
    warnings: warning ? [warning] : [],
  };
}
