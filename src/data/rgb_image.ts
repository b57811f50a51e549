/**
 * The decoded picture every image reader produces and every transform takes, in a file of its own so that
 * the decoders and the transforms share it without importing each other.
 *
 * @module
 */

/** An 8-bit RGB image, pixels interleaved (`R, G, B, R, G, B, ...`), rows top to bottom. */
export interface RgbImage {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/**
 * An interleaved RGB image as three planes, R then G then B, each `width * height` bytes: the layout the
 * batcher reads.
 *
 * @example
 * ```ts
 * import { chwPlanes } from "@denogpu/resnet/data";
 * const planes = chwPlanes({ width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) });
 * console.log([...planes]); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function chwPlanes(image: RgbImage): Uint8Array {
  const plane = image.width * image.height;
  const { data } = image;
  const out = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = data[p * 3];
    out[plane + p] = data[p * 3 + 1];
    out[2 * plane + p] = data[p * 3 + 2];
  }
  return out;
}
