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
