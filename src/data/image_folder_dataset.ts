/**
 * An image folder as an in-memory data set: every image decoded once, resized and centre-cropped to the
 * working size as torchvision's evaluation transform does, and kept as bytes, so that the GPU batcher
 * crops, flips and normalises it as it does CIFAR. Host memory is `3 * size * size` bytes per image
 * (150 KB at 224) plus one decoded original at a time.
 *
 * @module
 */

import { basename } from "node:path";
import { type DatasetSplits, type ImageDataset, imageDataset } from "./dataset.ts";
import { decodeEntries, type ImageProblem, problemsWarning } from "./image_files.ts";
import { type ImageEntry, readImageFolder } from "./image_folder.ts";
import { evalCrop, IMAGENET_NORMALISATION } from "./transforms.ts";

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
  const { size = 224, strict = false } = options;
  const folder = await readImageFolder(root, { valSplit: options.valSplit, seed: options.seed });
  if (folder.val.length === 0) {
    throw new Error(`${root}: no validation images; give a valSplit above 0 or a val/ folder`);
  }
  const problems: ImageProblem[] = [];
  const split = async (entries: ImageEntry[], name: string): Promise<ImageDataset> => {
    const decoded = await decodeEntries(entries, { strict, prepare: (image) => evalCrop(image, { size }) });
    const { images } = decoded;
    problems.push(...decoded.problems);
    if (images.length === 0) throw new Error(`${root}: no image of the ${name} split could be decoded`);
    const plane = size * size;
    const bytes = new Uint8Array(images.length * 3 * plane);
    images.forEach(({ image }, i) => {
      // Interleaved RGB to the CHW planes the batcher reads.
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) bytes[(i * 3 + c) * plane + p] = image.data[p * 3 + c];
      }
    });
    const labels = folder.classes.length <= 256
      ? new Uint8Array(images.length)
      : new Uint16Array(images.length);
    images.forEach(({ entry }, i) => labels[i] = entry.label);
    return imageDataset({
      images: bytes,
      labels,
      channels: 3,
      height: size,
      width: size,
      classes: folder.classes,
      ...IMAGENET_NORMALISATION,
    }, `${root} ${name} split`);
  };
  const train = await split(folder.train, "training");
  const test = await split(folder.val, "validation");
  const warning = problemsWarning(problems);
  const layout = folder.split.kind === "folders"
    ? `its train/ and ${basename(folder.split.val)}/ folders`
    : `${Math.round(folder.split.valSplit * 100)}% of each class held out`;
  return {
    train,
    test,
    name: basename(root.replace(/[\\/]+$/, "")) || root,
    source: `image folder ${root} (${folder.classes.length} classes, ${train.count} training and ` +
      `${test.count} validation images, ${layout}, at ${size}x${size})`,
    warnings: warning ? [warning] : [],
  };
}
