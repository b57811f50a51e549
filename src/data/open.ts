/**
 * One entry for every kind of training data a run can name: a CIFAR release (archive, folder or the cache's
 * official copy) or the built-in synthetic shapes, telling which it found.
 *
 * @module
 */

import { loadCifar, type LoadCifarOptions } from "./cifar.ts";
import type { ImageDataset } from "./dataset.ts";
import { detectDataset } from "./detect.ts";
import { syntheticDataset } from "./synthetic.ts";

/** What a data spec names: the built-in shapes, or a path. */
const SYNTHETIC = /^synthetic(?::(\d+))?$/;

/** Options of {@linkcode openDataset}: where the data is, plus {@linkcode loadCifar}'s options. */
export interface OpenDatasetOptions extends Omit<LoadCifarOptions, "path"> {
  /**
   * A CIFAR archive or folder; `"synthetic"` (or `"synthetic:SEED"`) for the built-in shapes at 32x32
   * (5,000 training and 1,000 test images; seed 0 unless given); absent for the official release in the
   * cache folder.
   */
  data?: string;
}

/** Both splits of the data a run trains and tests on, and where they came from. */
export interface DatasetSplits {
  /** The training split. */
  train: ImageDataset;
  /** The test split. */
  test: ImageDataset;
  /** A short name for titles: `cifar10`, `cifar100` or `synthetic`. */
  name: string;
  /** What was read, for the log: the archive or folder, or the generator and its seed. */
  source: string;
  /** Things worth telling the user. */
  warnings: string[];
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
 * @throws {Error} When the path is missing or holds neither CIFAR files nor anything else readable, or
 * (for now) holds an image folder, which the streaming loader will read.
 */
export async function openDataset(options: OpenDatasetOptions = {}): Promise<DatasetSplits> {
  const { data, ...cifar } = options;
  const synthetic = data === undefined ? null : SYNTHETIC.exec(data);
  if (synthetic) {
    const splits = syntheticDataset({ seed: Number(synthetic[1] ?? 0) });
    return { ...splits, name: "synthetic" };
  }
  if (data !== undefined) {
    const found = await detectDataset(data);
    if (found.kind === "missing") throw new Error(`${data} ${found.evidence}`);
    if (found.kind === "image-folder") {
      throw new Error(
        `${data} ${found.evidence}: training on image folders is not available yet ` +
          `(readImageFolder lists them; the loader that feeds them to training is coming)`,
      );
    }
    if (found.kind === "unknown") {
      throw new Error(`${data} ${found.evidence}; expected a CIFAR archive or folder, or "synthetic"`);
    }
  }
  return await loadCifar({ ...cifar, path: data });
}
