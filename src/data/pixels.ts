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
 * bytes before the vertical one. With `window`, only that window of the resized image is computed and
 * returned: the bytes of {@linkcode cropImage} on the whole of it, for a fraction of the work.
 *
 * @example
 * ```ts
 * import { resizeImage } from "@denogpu/resnet/data";
 * const image = { width: 4, height: 2, data: new Uint8Array(24) };
 * const small = resizeImage(image, 2, 1);
 * const corner = resizeImage(image, 3, 2, { top: 0, left: 0, width: 2, height: 1 });
 * console.log(small.width, corner.data.length); // 2 6
 * ```
 *
 * @throws {RangeError} When `width` or `height` is not a positive integer, or `window` is not inside the
 * resized image.
 */
export function resizeImage(image: RgbImage, width: number, height: number, window?: CropWindow): RgbImage {
  for (const [what, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`resize ${what} must be a positive integer, got ${value}`);
    }
  }
  if (!window) return { width, height, data: resamplePixels(image.data, image, { width, height }, 3) };
  checkWindow(window, { width, height });
  const data = resamplePixels(image.data, image, { width, height }, 3, window);
  return { width: window.width, height: window.height, data };
}

/**
 * The centre `width` x `height` window of an image of `size`, as torchvision's `CenterCrop` places it: the
 * offset is Python's `int(round((size - crop) / 2.0))`, halves to even (a margin of 3 starts the crop at
 * 2, one of 5 at 2).
 *
 * @example
 * ```ts
 * import { centreWindow } from "@denogpu/resnet/data";
 * console.log(centreWindow({ width: 341, height: 256 }, 224, 224)); // { top: 16, left: 58, width: 224, height: 224 }
 * ```
 *
 * @throws {RangeError} When the window is wider or taller than the image.
 */
export function centreWindow(
  size: { width: number; height: number },
  width: number,
  height: number,
): CropWindow {
  if (width > size.width || height > size.height) {
    throw new RangeError(`cannot crop ${width}x${height} out of a ${size.width}x${size.height} image`);
  }
  const top = roundHalfEven((size.height - height) / 2);
  const left = roundHalfEven((size.width - width) / 2);
  return { top, left, width, height };
}

/**
 * The centre `width` x `height` window of an image, as torchvision's `CenterCrop` (placed by
 * {@linkcode centreWindow}).
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
  return cropImage(image, centreWindow(image, width, height));
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
  checkWindow(window, image);
  const { top, left, width, height } = window;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

function checkWindow(window: CropWindow, image: { width: number; height: number }): void {
  const { top, left, width, height } = window;
  const inside = [top, left, width, height].every(Number.isInteger) && top >= 0 && left >= 0 &&
    width > 0 && height > 0 && top + height <= image.height && left + width <= image.width;
  if (!inside) {
    throw new RangeError(
      `crop window ${width}x${height} at (${left}, ${top}) is not inside the ${image.width}x${image.height} image`,
    );
  }
}
