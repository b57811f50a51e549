/**
 * Image bytes read from a file on demand (a decoded cache), so that a data set larger than memory can be
 * trained on: the pipeline reads a chunk or a batch at a time.
 *
 * @module
 */

import type { StoredImages } from "./dataset.ts";

/**
 * The bytes `[offset, offset + length)` of `path` as {@linkcode StoredImages}. Every read opens the
 * file, reads and closes it, so nothing stays open between steps.
 *
 * @example
 * ```ts
 * import { fileImages } from "@denogpu/resnet/data";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array([1, 2, 3, 4, 5, 6]));
 * const images = fileImages(path, { length: 6, fingerprint: "example" });
 * console.log(images.read(3, 6), images.slice(3, 6).read(0, 2)); // Uint8Array [4, 5, 6] Uint8Array [4, 5]
 * ```
 */
export function fileImages(
  path: string,
  options: { offset?: number; length: number; fingerprint: string },
): StoredImages {
  const { offset = 0, length, fingerprint } = options;
  const check = (begin: number, end: number) => {
    if (!(Number.isInteger(begin) && Number.isInteger(end) && 0 <= begin && begin <= end && end <= length)) {
      throw new RangeError(`${path}: bytes [${begin}, ${end}) are not within its ${length} image bytes`);
    }
  };
  return {
    length,
    source: path,
    fingerprint,
    read(begin, end) {
      check(begin, end);
      const bytes = new Uint8Array(end - begin);
      try {
        using file = Deno.openSync(path, { read: true });
        file.seekSync(offset + begin, Deno.SeekMode.Start);
        for (let at = 0; at < bytes.length;) {
          const read = file.readSync(bytes.subarray(at));
          if (read === null) throw new Error(`it ends before byte ${offset + begin + at}`);
          at += read;
        }
      } catch (error) {
        throw new Error(`cannot read the images stored in ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      return bytes;
    },
    slice(begin, end) {
      check(begin, end);
      return fileImages(path, {
        offset: offset + begin,
        length: end - begin,
        fingerprint: `${fingerprint}:${begin}-${end}`,
      });
    },
  };
}
