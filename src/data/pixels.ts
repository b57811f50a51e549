/**
 * The pixel operations of torchvision's transforms on decoded images: PIL's antialiased bilinear resize,
 * the centre crop and the crop of a window. Apart from the decoders, so that the batch pipelines (and the
 * browser) use them without the file readers.
 *
 * @module
 */

import { resamplePixels } from "./_resample.ts";
import { roundHalfEven } from "./_round.ts";
import type { RgbImage } from "./rgb_image.ts";

/**
 * Resizes an image to `width` x `height` with antialiased bilinear filtering, byte for byte as PIL's
 * `Image.resize((width, height), Image.BILINEAR)` (which torchvision's `Resize` calls on PIL images): a
 * triangle filter widened by the shrinking factor, in 22-bit fixed point, the horizontal pass rounded to
 * bytes before the vertical one.
 *
 * @example
 * ```ts
 * import { resizeImage } from "@denogpu/resnet/data";
 * const small = resizeImage({ width: 4, height: 2, data: new Uint8Array(24) }, 2, 1);
 * ```
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  for (const [what, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`resize ${what} must be a positive integer, got ${value}`);
    }
  }
  return { width, height, data: resamplePixels(image.data, image, { width, height }, 3) };
}

/**
 * The centre `width` x `height` window of an image, as torchvision's `CenterCrop`: the offset is Python's
 * `int(round((size - crop) / 2.0))`, halves to even (a margin of 3 starts the crop at 2, one of 5 at 2).
 *
 * @example
 * ```ts
 * import { centreCrop } from "@denogpu/resnet/data";
 * const crop = centreCrop({ width: 4, height: 4, data: new Uint8Array(4 * 4 * 3) }, 2, 2);
 * console.log(crop.width, crop.height, crop.data.length); // 2 2 12
 * ```
 *
 * @throws {RangeError} When the window is wider or taller than the image.
 */
export function centreCrop(image: RgbImage, width: number, height: number): RgbImage {
  if (width > image.width || height > image.height) {
    throw new RangeError(`cannot crop ${width}x${height} out of a ${image.width}x${image.height} image`);
  }
  const top = roundHalfEven((image.height - height) / 2);
  const left = roundHalfEven((image.width - width) / 2);
  return cropImage(image, { top, left, width, height });
}

/** A window of an image: rows `top` to `top + height`, columns `left` to `left + width`. */
export interface CropWindow {
  /** First row. */
  top: number;
  /** First column. */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/**
 * The pixels of a window inside the image (torchvision's `F.crop` of a window that does not leave it).
 *
 * @example
 * ```ts
 * import { cropImage } from "@denogpu/resnet/data";
 * const image = { width: 4, height: 3, data: new Uint8Array(4 * 3 * 3).map((_, i) => i) };
 * const crop = cropImage(image, { top: 1, left: 2, height: 2, width: 1 });
 * console.log([...crop.data]); // [18, 19, 20, 30, 31, 32]
 * ```
 *
 * @throws {RangeError} When the window is empty, fractional or reaches outside the image.
 */
export function cropImage(image: RgbImage, window: CropWindow): RgbImage {
  const { top, left, width, height } = window;
  const inside = [top, left, width, height].every(Number.isInteger) && top >= 0 && left >= 0 &&
    width > 0 && height > 0 && top + height <= image.height && left + width <= image.width;
  if (!inside) {
    throw new RangeError(
      `crop window ${width}x${height} at (${left}, ${top}) is not inside the ${image.width}x${image.height} image`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}
