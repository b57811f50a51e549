/**
 * The EXIF orientation of a photo and the turn or flip that undoes it, as PIL's `ImageOps.exif_transpose`
 * applies it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import readExif from "exif-reader";
import type { RgbImage } from "./rgb_image.ts";

/**
 * The orientation tag (1 to 8) of an `Exif\0\0` APP1 payload; 1 (upright) when there is none or the EXIF
 * block is broken: a damaged tag should not cost the picture, and PIL's decoding does not depend on it.
 */
export function exifOrientation(app1: Uint8Array | undefined): number {
  if (!app1) return 1;
  let orientation: unknown;
  try {
    orientation = readExif(Buffer.from(app1.buffer, app1.byteOffset, app1.byteLength)).Image?.Orientation;
  } catch {
    return 1;
  }
  return typeof orientation === "number" && Number.isInteger(orientation) && orientation >= 1 &&
      orientation <= 8
    ? orientation
    : 1;
}

/**
 * Where output pixel `(x, y)` is read from, per orientation 2 to 8: `[xx, xy, ox, yx, yy, oy]` with
 * `sx = xx * x + xy * y + ox * (width - 1)` and `sy = yx * x + yy * y + oy * (height - 1)` in the input.
 * These are PIL's transpose methods FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270,
 * TRANSVERSE and ROTATE_90 (PIL's rotations turn counter-clockwise).
 */
const SOURCES: Record<number, readonly number[]> = {
  2: [-1, 0, 1, 0, 1, 0],
  3: [-1, 0, 1, 0, -1, 1],
  4: [1, 0, 0, 0, -1, 1],
  5: [0, 1, 0, 1, 0, 0],
  6: [0, 1, 0, -1, 0, 1],
  7: [0, -1, 1, -1, 0, 1],
  8: [0, -1, 1, 1, 0, 0],
};

/** Turns or flips `image` upright for its EXIF `orientation` (1 and unknown values leave it as it is). */
export function orient(image: RgbImage, orientation: number): RgbImage {
  const map = SOURCES[orientation];
  if (!map) return image;
  const [xx, xy, ox, yx, yy, oy] = map;
  const swap = orientation >= 5;
  const width = swap ? image.height : image.width;
  const height = swap ? image.width : image.height;
  // Byte offsets in the input: of output (0, 0), and the steps for one output column and one row.
  const origin = (oy * (image.height - 1) * image.width + ox * (image.width - 1)) * 3;
  const column = (yx * image.width + xx) * 3;
  const row = (yy * image.width + xy) * 3;
  const data = new Uint8Array(image.data.length);
  for (let y = 0, to = 0; y < height; y++) {
    for (let x = 0, from = origin + y * row; x < width; x++, from += column, to += 3) {
      data[to] = image.data[from];
      data[to + 1] = image.data[from + 1];
      data[to + 2] = image.data[from + 2];
    }
  }
  return { width, height, data };
}
