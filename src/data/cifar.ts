/**
 * Loads CIFAR-10/100 the way torchvision's `download=True` does: from a path the user gives, else from the
 * cache folder, downloading and verifying the official archive there when it is absent.
 *
 * @module
 */

import { join } from "node:path";
import { CIFAR_LAYOUTS, type CifarLabelKind, type CifarName } from "./cifar_layout.ts";
import { type CifarSplits, readCifar } from "./cifar_reader.ts";
import { defaultCacheDir } from "../io/cache.ts";
import { downloadFile } from "../io/download.ts";
import { type DownloadProgress, progressReporter } from "../io/progress.ts";
import { exists } from "../io/_fs.ts";

/** Options of {@linkcode loadCifar}. */
export interface LoadCifarOptions {
  /** Which data set, `"cifar10"` by default. */
  dataset?: CifarName;
  /**
   * The archive, the extracted folder, or a folder holding either. When given, only this is read (nothing
   * is downloaded); when left out, the data comes from `cacheDir`.
   */
  path?: string;
  /** Download the official archive into `cacheDir` when it is not there (default true). */
  download?: boolean;
  /** Where downloads are kept; {@linkcode defaultCacheDir} by default. */
  cacheDir?: string;
  /** CIFAR-100 only: `"fine"` (100 classes, default) or `"coarse"` (20). */
  labels?: CifarLabelKind;
  /** Receives download progress instead of the default bar on stderr. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Another address and checksum for the archive (a mirror); the canonical ones by default. */
  mirror?: { url: string; md5: string };
}

// Re-exported so that the folder loadCifar defaults to sits beside it.

/**
 * Both splits of CIFAR-10 or CIFAR-100, validated. Reads `path` when given; otherwise looks in the cache
 * folder and, unless `download` is false, downloads the official archive there first (progress on stderr,
 * MD5-checked, written atomically).
 *
 * @example
 * ```ts
 * import { loadCifar } from "@denogpu/resnet";
 * const { train, test, warnings } = await loadCifar({ dataset: "cifar10" });
 * for (const warning of warnings) console.warn(warning);
 * console.log(train.count, test.classes);
 * ```
 */
export async function loadCifar(options: LoadCifarOptions = {}): Promise<CifarSplits> {
  const dataset = options.dataset ?? "cifar10";
  const layout = CIFAR_LAYOUTS[dataset];
  if (!layout) throw new RangeError(`unknown data set "${dataset}", expected "cifar10" or "cifar100"`);
  const read = { dataset, labels: options.labels };
  if (options.path !== undefined) return await readCifar(options.path, read);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const archive = join(cacheDir, layout.archive);
  for (const candidate of [join(cacheDir, layout.folder), archive]) {
    if (await exists(candidate)) return await readCifar(candidate, read);
  }
  const { url, md5 } = options.mirror ?? layout;
  const byHand = `download ${url} yourself and put it at ${archive} (or pass its path)`;
  if (options.download === false) {
    throw new Error(`${layout.title} is not in ${cacheDir} and downloading is turned off: ${byHand}`);
  }
  try {
    await downloadFile({
      url,
      destination: archive,
      md5,
      onProgress: options.onProgress ?? progressReporter(layout.archive),
    });
  } catch (error) {
    throw new Error(
      `could not download ${layout.title}: ${(error as Error).message}. To use it offline, ${byHand}`,
      {
        cause: error,
      },
    );
  }
  return await readCifar(archive, read);
}
