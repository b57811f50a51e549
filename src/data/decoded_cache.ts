/**
 * An image folder's split decoded once: the crops' CHW bytes at the working size, written to a cache file
 * that later runs read instead of decoding again, and kept in memory when they fit, else read from the
 * file as training goes (see `StoredImages`). While decoding, memory holds each worker's files in hand
 * and the few crops that overtook a slower one.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { totalmem } from "node:os";
import { join } from "node:path";
import { atomicWriter, writeFileAtomic } from "../io/atomic.ts";
import type { StoredImages } from "./dataset.ts";
import { decodeEntriesParallel } from "./decode_pool.ts";
import { ImageDecodeError } from "./image_error.ts";
import type { ImageProblem } from "./image_files.ts";
import type { ImageEntry } from "./image_folder.ts";
import { fileImages } from "./stored_images.ts";
import { type StoredCrop, storedCropBytes } from "./transforms.ts";

/** Bumped whenever decoding or cropping changes what bytes a file gives, or the index's layout. */
const CACHE_VERSION = 2;

/** How {@linkcode decodeSplit} decodes and where it keeps the result. */
export interface DecodeSplitOptions {
  /** `storedCrop`'s options: what is kept of each image. */
  crop: StoredCrop;
  /** Refuse the first bad file instead of skipping bad files. @default {false} */
  strict?: boolean;
  /** Workers decoding at once. @default {navigator.hardwareConcurrency} */
  workers?: number;
  /** The folder of decoded caches (e.g. `defaultCacheDir()`); none: decode every time, in memory. */
  cacheDir?: string;
  /**
   * Largest split kept in memory, in bytes; a larger one is read from its cache file as it is used.
   *
   * @default {a quarter of the machine's memory}
   */
  maxHostBytes?: number;
  /** Called as files are done, with the count so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** A decoded split: the images of the entries that decoded, and the files that did not. */
export interface DecodedSplit {
  /**
   * `kept.length` CHW images, each at the start of a slot of `storedCropBytes(crop)` bytes, in memory or
   * stored in the cache file.
   */
  images: Uint8Array | StoredImages;
  /** Each image's columns and rows, two values per image. */
  sizes: Uint16Array;
  /** The entries whose images those are, in order. */
  kept: ImageEntry[];
  /** The files that could not be decoded. */
  problems: ImageProblem[];
  /** Whether the images came from the cache instead of being decoded. */
  cached: boolean;
}

/** What the cache keeps beside the bytes. */
interface CacheIndex {
  version: number;
  kept: number[];
  sizes: number[];
  problems: ImageProblem[];
  bytes: number;
  fingerprint: string;
}

/** A hash of what decides the bytes: each file's path, label, size and time, the crop and the version. */
async function cacheKey(entries: readonly ImageEntry[], crop: DecodeSplitOptions["crop"]): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ version: CACHE_VERSION, crop }));
  for (const entry of entries) {
    const info = await Deno.stat(entry.path).catch(() => undefined);
    hash.update(`\n${entry.path}\t${entry.label}\t${info?.size}\t${info?.mtime?.getTime()}`);
  }
  return hash.digest("hex");
}

function strictError(problem: ImageProblem): ImageDecodeError {
  return new ImageDecodeError(`${problem.message} (strict: bad images are refused, not skipped)`, {
    source: problem.path,
    kind: problem.kind,
  });
}

/** The cache's index and bytes for `key`, if both are there and agree. */
function readCache(paths: { index: string; bytes: string }): CacheIndex | undefined {
  try {
    const index = JSON.parse(Deno.readTextFileSync(paths.index)) as CacheIndex;
    if (index.version !== CACHE_VERSION || Deno.statSync(paths.bytes).size !== index.bytes) return undefined;
    return index;
  } catch {
    // A missing or damaged cache is decoded again.
    return undefined;
  }
}

/**
 * Decodes and crops `entries` in a pool of workers, or reads them from the decoded cache, as
 * {@linkcode DecodeSplitOptions} says.
 *
 * @example
 * ```ts ignore
 * import { decodeSplit, readImageFolder } from "@denogpu/resnet/data";
 * import { defaultCacheDir } from "@denogpu/resnet/io";
 * const { train } = await readImageFolder("photos");
 * const split = await decodeSplit(train, { crop: { size: 256, resize: 256 }, cacheDir: defaultCacheDir() });
 * console.log(split.kept.length, split.cached, split.images.length);
 * ```
 *
 * @throws {ImageDecodeError} With `strict`, for the first file that cannot be decoded, naming it.
 * @throws {Error} When a split larger than `maxHostBytes` has no cache folder to be stored in.
 */
export async function decodeSplit(
  entries: readonly ImageEntry[],
  options: DecodeSplitOptions,
): Promise<DecodedSplit> {
  const { crop, strict = false, cacheDir } = options;
  const imageBytes = storedCropBytes(crop);
  const maxHostBytes = options.maxHostBytes ?? totalmem() / 4;
  const inMemory = entries.length * imageBytes <= maxHostBytes;
  if (!inMemory && cacheDir === undefined) {
    throw new Error(
      `${entries.length} images decoded to ${imageBytes} bytes each exceed the memory bound of ` +
        `${maxHostBytes} bytes; give a cache folder to store them in`,
    );
  }
  const key = cacheDir === undefined ? undefined : await cacheKey(entries, crop);
  const paths = key === undefined ? undefined : {
    index: join(cacheDir!, "decoded", `${key}.json`),
    bytes: join(cacheDir!, "decoded", `${key}.bin`),
  };
  const cached = paths ? readCache(paths) : undefined;
  if (paths && cached) {
    if (strict && cached.problems.length) throw strictError(cached.problems[0]);
    options.onProgress?.(entries.length, entries.length);
    return {
      images: inMemory
        ? await Deno.readFile(paths.bytes)
        : fileImages(paths.bytes, { length: cached.bytes, fingerprint: cached.fingerprint }),
      kept: cached.kept.map((i) => entries[i]),
      sizes: Uint16Array.from(cached.sizes),
      problems: cached.problems,
      cached: true,
    };
  }
  if (paths) await Deno.mkdir(join(cacheDir!, "decoded"), { recursive: true });
  const writer = paths ? atomicWriter(paths.bytes) : undefined;
  try {
    const hash = createHash("sha256");
    const memory = inMemory ? new Uint8Array(entries.length * imageBytes) : undefined;
    const kept: number[] = [];
    const sizes: number[] = [];
    const problems: ImageProblem[] = [];
    const padding = new Uint8Array(imageBytes);
    const position = new Map(entries.map((entry, i) => [entry, i]));
    const decoded = await decodeEntriesParallel(entries, {
      crop,
      strict,
      workers: options.workers,
      onProgress: options.onProgress,
      onImage: (entry, { chw, width, height }) => {
        memory?.set(chw, kept.length * imageBytes);
        const rest = padding.subarray(chw.length);
        writer?.write(chw);
        writer?.write(rest);
        hash.update(chw);
        hash.update(rest);
        kept.push(position.get(entry)!);
        sizes.push(width, height);
      },
    });
    problems.push(...decoded.problems);
    const bytes = kept.length * imageBytes;
    const fingerprint = hash.digest("hex");
    if (writer && paths) {
      writer.commit();
      const index: CacheIndex = { version: CACHE_VERSION, kept, sizes, problems, bytes, fingerprint };
      writeFileAtomic(paths.index, JSON.stringify(index));
    }
    return {
      images: memory ? memory.subarray(0, bytes) : fileImages(paths!.bytes, { length: bytes, fingerprint }),
      kept: kept.map((i) => entries[i]),
      sizes: Uint16Array.from(sizes),
      problems,
      cached: false,
    };
  } catch (error) {
    writer?.abort();
    throw error;
  }
}
