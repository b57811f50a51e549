/**
 * One entry for every kind of training data a run can name: a CIFAR release (archive, folder or the cache's
 * official copy), an image folder or the built-in synthetic shapes, telling which it found.
 *
 * @module
 */

import { loadCifar, type LoadCifarOptions } from "./cifar.ts";
import type { DatasetSplits } from "./dataset.ts";
import { detectDataset } from "./detect.ts";
import { loadImageFolder, type LoadImageFolderOptions } from "./image_folder_dataset.ts";
import { syntheticDataset } from "./synthetic.ts";

/** What a data spec names: the built-in shapes, or a path. */
const SYNTHETIC = /^synthetic(?::(\d+))?$/;

/** Options of {@linkcode openDataset}: where the data is, plus {@linkcode loadCifar}'s options. */
export interface OpenDatasetOptions
  extends Omit<LoadCifarOptions, "path">, Pick<LoadImageFolderOptions, "valSplit" | "strict"> {
  /**
   * A CIFAR archive or folder, an image folder (`<class>/<image>`, or `train/` and `val/`); `"synthetic"`
   * (or `"synthetic:SEED"`) for the built-in shapes (5,000 training and 1,000 test images; seed 0 unless
   * given); absent for the official release in the cache folder.
   */
  data?: string;
  /**
   * The model's input side: an image folder's images are stored for it (224 unless given) and the
   * synthetic shapes made at it (32 unless given); CIFAR's stay 32x32, resized when batched.
   */
  imageSize?: number;
}

/**
 * Opens the data `options.data` names. A path is looked at first, so that a folder of class folders gets
 * a clear answer instead of CIFAR's missing-file error.
 *
 * @example
 * ```ts
 * import { openDataset } from "@denogpu/resnet/data";
 * const { train, test, source } = await openDataset({ data: "synthetic" });
 * console.log(source, train.count, test.classes.length); // synthetic shapes (seed 0, ...) 5000 10
 * ```
 *
 * @throws {Error} When the path is missing or holds neither CIFAR files nor an image folder, or when the
 * data cannot be read (each reader's error names the file or folder).
 */
export async function openDataset(options: OpenDatasetOptions = {}): Promise<DatasetSplits> {
  const { data, imageSize, valSplit, strict, ...cifar } = options;
  const synthetic = data === undefined ? null : SYNTHETIC.exec(data);
  if (synthetic) {
    const splits = syntheticDataset({ seed: Number(synthetic[1] ?? 0), size: imageSize });
    return { ...splits, name: "synthetic" };
  }
  if (data !== undefined) {
    const found = await detectDataset(data);
    if (found.kind === "missing") throw new Error(`${data} ${found.evidence}`);
    if (found.kind === "image-folder") {
      return await loadImageFolder(data, {
        size: imageSize,
        valSplit,
        strict,
        seed: 0,
        cache: cifar.cacheDir,
      });
    }
    if (found.kind === "unknown") {
      throw new Error(
        `${data} ${found.evidence}; expected a CIFAR archive or folder, an image folder or "synthetic"`,
      );
    }
  }
  // CIFAR's 32x32 images are resized to another imageSize on the GPU, batch by batch.
  return await loadCifar({ ...cifar, path: data });
}
