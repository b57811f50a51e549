/**
 * Decoding the images of a data set where some files may be bad: each failure is recorded as a problem
 * naming the file, so that a loader can skip the bad ones with one warning, or refuse them when strict.
 *
 * @module
 */

import type { ImageEntry } from "./image_folder.ts";
import { ImageDecodeError, type ImageProblemKind } from "./image_error.ts";
import { type DecodeOptions, readImage, type RgbImage } from "./images.ts";

/** A file that could not be decoded. */
export interface ImageProblem {
  /** The file. */
  path: string;
  /** What is wrong. */
  kind: ImageProblemKind;
  /** The whole message, naming the file. */
  message: string;
}

/** One entry's outcome: its image, or the problem that kept it from being decoded. */
export type DecodedEntry =
  | { entry: ImageEntry; image: RgbImage; problem?: undefined }
  | { entry: ImageEntry; image?: undefined; problem: ImageProblem };

/** How {@linkcode decodeEntries} treats bad files. */
export interface DecodeEntriesOptions extends DecodeOptions {
  /**
   * Refuse the first bad file with its error instead of recording it. Off by default: one unreadable
   * photo in thousands should not stop a run, so bad files are skipped and listed
   * (see {@linkcode problemsWarning}).
   *
   * @default {false}
   */
  strict?: boolean;
  /**
   * Applied to each image as soon as it is decoded (e.g. `evalCrop`), so that a long list holds
   * only the smaller copies, never all the decoded originals.
   */
  prepare?: (image: RgbImage) => RgbImage;
}

/** What {@linkcode decodeEntries} made of a list of entries. */
export interface DecodedEntries {
  /** The entries that decoded, in their order, with their images. */
  images: { entry: ImageEntry; image: RgbImage }[];
  /** The files that did not, in their order. */
  problems: ImageProblem[];
}

/**
 * Reads and decodes one entry's file, returning the problem instead of throwing when the file is
 * unreadable, empty, not an image, of an unsupported format, corrupt or truncated, or too large.
 *
 * @example
 * ```ts
 * import { decodeEntry } from "@denogpu/resnet/data";
 * const result = await decodeEntry({ path: "photos/cat/1.jpg", label: 0 });
 * if (result.problem) console.warn(result.problem.message);
 * else console.log(result.image.width, result.image.height);
 * ```
 *
 * @throws {RangeError} For invalid options; a bad file is never thrown.
 */
export async function decodeEntry(entry: ImageEntry, options: DecodeOptions = {}): Promise<DecodedEntry> {
  try {
    return { entry, image: await readImage(entry.path, options) };
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
    return { entry, problem: { path: entry.path, kind: error.kind, message: error.message } };
  }
}

/**
 * Reads and decodes a list of entries (a batch: every image is held in memory), one after the other.
 * By default bad files are skipped and returned as problems; with `strict` the first bad file throws.
 *
 * @example
 * ```ts
 * import { decodeEntries, problemsWarning, readImageFolder } from "@denogpu/resnet/data";
 * const { train } = await readImageFolder("photos");
 * const { images, problems } = await decodeEntries(train.slice(0, 256));
 * const warning = problemsWarning(problems);
 * if (warning) console.warn(warning);
 * console.log(images.length);
 * ```
 *
 * @throws {ImageDecodeError} With `strict`, for the first file that cannot be decoded, naming it.
 * @throws {RangeError} For invalid options.
 */
export async function decodeEntries(
  entries: readonly ImageEntry[],
  options: DecodeEntriesOptions = {},
): Promise<DecodedEntries> {
  const out: DecodedEntries = { images: [], problems: [] };
  for (const entry of entries) {
    const result = await decodeEntry(entry, options);
    if (!result.problem) {
      out.images.push({ entry, image: options.prepare ? options.prepare(result.image) : result.image });
    } else if (options.strict) {
      throw new ImageDecodeError(`${result.problem.message} (strict: bad images are refused, not skipped)`, {
        source: entry.path,
        kind: result.problem.kind,
      });
    } else {
      out.problems.push(result.problem);
    }
  }
  return out;
}

/**
 * One warning listing every skipped file and why, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { problemsWarning } from "@denogpu/resnet/data";
 * const message = "a.png: empty file (0 bytes)";
 * const warning = problemsWarning([{ path: "a.png", kind: "empty", message }]);
 * console.log(warning); // "skipped 1 image that cannot be decoded ...:\n  a.png: empty file (0 bytes)"
 * ```
 */
export function problemsWarning(problems: readonly ImageProblem[]): string | undefined {
  if (problems.length === 0) return undefined;
  const count = problems.length === 1 ? "1 image" : `${problems.length} images`;
  return `skipped ${count} that cannot be decoded (strict refuses them instead):\n` +
    problems.map((problem) => `  ${problem.message}`).join("\n");
}
