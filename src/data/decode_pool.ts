/**
 * Decoding a data set's images on every core: a pool of workers each reads, decodes and centre-crops files
 * (as `decodeEntries` with `prepare: storedCrop` does) and sends back only the crop's CHW planes,
 * so that JPEG decoding, which takes most of the time of loading an image folder, is not done on one
 * thread, and the decoded originals never reach the caller.
 *
 * @module
 */

import type { DecodeReply, DecodeTask } from "./_decode_worker.ts";
import type { ImageEntry } from "./image_folder.ts";
import type { ImageProblem } from "./image_files.ts";
import { ImageDecodeError } from "./image_error.ts";
import type { DecodeOptions } from "./images.ts";
import type { StoredCrop } from "./transforms.ts";

/** How {@linkcode decodeEntriesParallel} decodes, crops and treats bad files. */
export interface ParallelDecodeOptions extends DecodeOptions {
  /**
   * Refuse the first bad file (in the entries' order) with its error instead of recording it, as
   * `decodeEntries` does.
   *
   * @default {false}
   */
  strict?: boolean;
  /** `storedCrop`'s options, applied in the worker right after decoding. */
  crop: StoredCrop;
  /**
   * Workers to start, never more than there are entries.
   *
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
  /** Called as each file is done (decoded or found bad), with the count so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Takes each crop in the entries' order instead of collecting it (`images` then comes back empty), so
   * that a list of any length is decoded in bounded memory: at most `8 * workers` crops wait.
   */
  onImage?: (entry: ImageEntry, crop: DecodedCrop) => void;
}

/** One decoded file's crop: its CHW planes (R, then G, then B) and size. */
export interface DecodedCrop {
  /** `3 * width * height` bytes. */
  chw: Uint8Array;
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
}

/** What {@linkcode decodeEntriesParallel} made of a list of entries. */
export interface ParallelDecodedEntries {
  /** The entries that decoded, in their order, with their crops. */
  images: ({ entry: ImageEntry } & DecodedCrop)[];
  /** The files that did not, in their order. */
  problems: ImageProblem[];
}

/**
 * Two tasks a worker, so that each has the next file in hand when it posts a crop back, while the files
 * read but not yet decoded stay bounded by the pool's size rather than the list's.
 */
const IN_FLIGHT_PER_WORKER = 2;

/** Crops decoded ahead of the first one not yet back, per worker: bounds what waits behind a slow file. */
const AHEAD_PER_WORKER = 8;

/** Every field of `DecodeOptions` by name, so that a new one fails to compile here instead of being lost. */
type AllDecodeOptions = { [K in keyof Required<DecodeOptions>]: DecodeOptions[K] };

/**
 * Reads, decodes and centre-crops a list of entries in a pool of workers, giving what
 * `decodeEntries` with `prepare: (image) => storedCrop(image, crop)` gives, byte for byte and in
 * the same order, with each crop as CHW planes (see `chwPlanes`). By default bad files are
 * skipped and returned as problems; with `strict` the first bad one in the entries' order throws. The
 * workers are terminated before this returns or throws.
 *
 * @example
 * ```ts
 * import { decodeEntriesParallel } from "@denogpu/resnet/data";
 * import { problemsWarning, readImageFolder } from "@denogpu/resnet/data";
 * const { train } = await readImageFolder("photos");
 * const { images, problems } = await decodeEntriesParallel(train, {
 *   crop: { size: 224 },
 *   onProgress: (done, total) => console.log(`${done}/${total}`),
 * });
 * const warning = problemsWarning(problems);
 * if (warning) console.warn(warning);
 * console.log(images.length, images[0]?.chw.length); // ... 150528
 * ```
 *
 * @throws {ImageDecodeError} With `strict`, for the first file that cannot be decoded, naming it.
 * @throws {RangeError} When `workers` is not a positive integer, or (naming the file) for invalid decode
 * or crop options.
 * @throws {Error} Naming the file, for any other failure in a worker.
 */
export async function decodeEntriesParallel(
  entries: readonly ImageEntry[],
  options: ParallelDecodeOptions,
): Promise<ParallelDecodedEntries> {
  const { workers = Math.max(1, navigator.hardwareConcurrency || 1) } = options;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  }
  if (entries.length === 0) return { images: [], problems: [] };
  const pool: Worker[] = [];
  try {
    for (let i = 0; i < Math.min(workers, entries.length); i++) {
      pool.push(new Worker(new URL("./_decode_worker.ts", import.meta.url).href, { type: "module" }));
    }
    return await drive(pool, entries, options);
  } finally {
    for (const worker of pool) worker.terminate();
  }
}

/** An error a worker reported, rebuilt on this side with the file's name in front. */
function workerError(path: string, error: { name: string; message: string; stack?: string }): Error {
  const cause = Object.assign(new Error(error.message), error);
  const Kind = error.name === "RangeError" ? RangeError : error.name === "TypeError" ? TypeError : Error;
  return new Kind(`${path}: decoding failed in a worker: ${error.name}: ${error.message}`, { cause });
}

/** Hands the entries to the pool and collects the replies in the entries' order. */
function drive(
  pool: readonly Worker[],
  entries: readonly ImageEntry[],
  options: ParallelDecodeOptions,
): Promise<ParallelDecodedEntries> {
  const decode: AllDecodeOptions = {
    maxMegapixels: options.maxMegapixels,
    exifOrientation: options.exifOrientation,
  };
  // A copy of only the crop's own fields: the options may hold what a worker cannot be sent.
  const crop: StoredCrop = "longest" in options.crop
    ? { resize: options.crop.resize, longest: options.crop.longest }
    : { size: options.crop.size, resize: options.crop.resize };
  const total = entries.length;
  return new Promise((resolve, reject) => {
    const out: ParallelDecodedEntries = { images: [], problems: [] };
    // Replies that overtook an earlier entry's, held until that one comes back.
    const early = new Map<number, DecodeReply>();
    const inFlight = new Map<Worker, Set<number>>(pool.map((worker) => [worker, new Set()]));
    let sent = 0;
    let taken = 0;
    let done = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      reject(error);
    };
    const send = (worker: Worker) => {
      const index = sent++;
      inFlight.get(worker)!.add(index);
      const task: DecodeTask = { index, path: entries[index].path, decode, crop };
      worker.postMessage(task);
    };
    // Round by round, so that every worker has a task before any has its second; never further ahead of
    // the entries taken than the window.
    const topUp = () => {
      for (let round = 1; round <= IN_FLIGHT_PER_WORKER; round++) {
        for (const worker of pool) {
          const ahead = sent - taken < AHEAD_PER_WORKER * pool.length;
          if (!failed && sent < total && ahead && inFlight.get(worker)!.size < round) send(worker);
        }
      }
    };
    const takeInOrder = () => {
      for (let reply = early.get(taken); reply; reply = early.get(taken)) {
        early.delete(taken);
        const entry = entries[taken++];
        if ("error" in reply) return fail(workerError(entry.path, reply.error));
        if ("chw" in reply) {
          const crop = { chw: new Uint8Array(reply.chw), width: reply.width, height: reply.height };
          if (!options.onImage) out.images.push({ entry, ...crop });
          else {
            try {
              options.onImage(entry, crop);
            } catch (error) {
              return fail(error as Error);
            }
          }
        } else if ("problem" in reply) {
          const { kind, message } = reply.problem;
          if (options.strict) {
            return fail(
              new ImageDecodeError(`${message} (strict: bad images are refused, not skipped)`, {
                source: entry.path,
                kind,
              }),
            );
          }
          out.problems.push({ path: entry.path, kind, message });
        }
      }
      if (taken === total) resolve(out);
    };
    for (const worker of pool) {
      worker.onmessage = (event: MessageEvent<DecodeReply>) => {
        if (failed) return;
        const reply = event.data;
        inFlight.get(worker)!.delete(reply.index);
        // An error is raised in the entries' order too, so that the first failing file is the one named.
        early.set(reply.index, reply);
        try {
          options.onProgress?.(++done, total);
        } catch (error) {
          return fail(error as Error);
        }
        takeInOrder();
        topUp();
      };
      // A worker that dies (its module failed to load, or it ran out of memory) answers nothing more:
      // without this the promise would never settle.
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const paths = [...inFlight.get(worker)!].map((index) => entries[index].path);
        fail(
          new Error(
            `a decoding worker failed (${event.message}) while decoding ${paths.join(", ") || "no file"}`,
          ),
        );
      };
      worker.onmessageerror = () => {
        const paths = [...inFlight.get(worker)!].map((index) => entries[index].path);
        fail(new Error(`a decoding worker's reply could not be read while decoding ${paths.join(", ")}`));
      };
    }
    topUp();
  });
}
