/**
 * Image files for prediction: PNG (decoded with `pngjs`) and JPEG (with `jpeg-js`), resized and
 * centre-cropped to the model's input and normalised, as torchvision's `Resize` + `CenterCrop` +
 * `ToTensor` + `Normalize` evaluation transform does.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";

/** An 8-bit RGB image, pixels interleaved (`R, G, B, R, G, B, ...`), rows top to bottom. */
export interface RgbImage {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/** What a file holds, from its first bytes. */
export type ImageFormat = "png" | "jpeg";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** jpeg-js refuses larger images by default; the same bound keeps a hostile file from exhausting memory. */
const MAX_MEGAPIXELS = 100;

/**
 * Tells PNG and JPEG files apart by their signatures; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { imageFormat } from "@denogpu/resnet/data";
 * console.log(imageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))); // "jpeg"
 * console.log(imageFormat(new TextEncoder().encode("GIF89a"))); // undefined
 * ```
 */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return undefined;
}

/** Drops the alpha channel of RGBA pixels, as PIL's `convert("RGB")` does. */
function rgbaToRgb(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return rgb;
}

/**
 * Decodes a PNG or JPEG file's bytes to RGB. Grey, palette and 16-bit PNGs are converted to 8-bit RGB and
 * alpha is dropped. Throws an error naming `source` for anything else and for corrupt or truncated data.
 *
 * @example
 * ```ts
 * import { decodeImage } from "@denogpu/resnet/data";
 * const image = decodeImage(await Deno.readFile("cat.png"), "cat.png");
 * console.log(image.width, image.height);
 * ```
 */
export function decodeImage(bytes: Uint8Array, source = "image"): RgbImage {
  const format = imageFormat(bytes);
  if (!format) throw new Error(`${source}: not a PNG or JPEG image`);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = format === "png"
      ? PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS });
  } catch (error) {
    throw new Error(
      `${source}: corrupt or truncated ${format.toUpperCase()} data (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length < width * height * 4) {
    throw new Error(
      `${source}: corrupt ${format.toUpperCase()} data (${width}x${height} with ${data.length} bytes)`,
    );
  }
  return { width, height, data: rgbaToRgb(data, width, height) };
}

/**
 * Reads and decodes a PNG or JPEG file (see {@linkcode decodeImage}).
 *
 * @example
 * ```ts
 * import { readImage } from "@denogpu/resnet/data";
 * const image = await readImage("cat.jpg");
 * ```
 */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return decodeImage(bytes, path);
}

/**
 * Resampling weights of one axis from `inSize` to `outSize` pixels: a triangle filter whose support grows
 * with the downscaling factor (PIL's and torchvision's antialiased bilinear), so that shrinking a photo
 * averages every source pixel instead of skipping most of them.
 */
function axisWeights(inSize: number, outSize: number): { first: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const first = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    const w = new Float64Array(hi - lo);
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const value = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      w[i - lo] = value;
      sum += value;
    }
    for (let k = 0; k < w.length; k++) w[k] /= sum;
    first[o] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/**
 * Resizes an image to `width` x `height` with antialiased bilinear filtering (separable, in float64,
 * rounded to bytes at the end).
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
  if (width === image.width && height === image.height) return { width, height, data: image.data.slice() };
  const columns = axisWeights(image.width, width);
  const rows = axisWeights(image.height, height);
  // Horizontal pass into float64 rows, then the vertical pass.
  const wide = new Float64Array(image.height * width * 3);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const w = columns.weights[x];
      const start = columns.first[x];
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < w.length; k++) sum += w[k] * image.data[(y * image.width + start + k) * 3 + c];
        wide[(y * width + x) * 3 + c] = sum;
      }
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const w = rows.weights[y];
    const start = rows.first[y];
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < w.length; k++) sum += w[k] * wide[((start + k) * width + x) * 3 + c];
        out[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(sum)));
      }
    }
  }
  return { width, height, data: out };
}

/**
 * The centre `width` x `height` window of an image, as torchvision's `CenterCrop` (the offset rounds the
 * same way: `round((size - crop) / 2)`).
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
  const top = Math.round((image.height - height) / 2);
  const left = Math.round((image.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** How {@linkcode prepareImage} turns a picture into a model input. */
export interface PrepareOptions {
  /** The model's input side (square inputs), e.g. 32 for CIFAR models, 224 for ImageNet ones. */
  size: number;
  /**
   * The shorter side is resized to this before the centre crop of `size` (torchvision's `Resize`); by
   * default `size` itself for inputs under 64 pixels (the whole picture, as CIFAR's images are) and
   * `round(size * 256 / 224)` otherwise (the ImageNet evaluation recipe).
   */
  resize?: number;
  /** Per-channel mean of pixels scaled to [0, 1]. */
  mean: readonly number[];
  /** Per-channel standard deviation of pixels scaled to [0, 1]. */
  std: readonly number[];
}

/**
 * Resizes the shorter side, centre-crops to `size` x `size` and normalises: the CHW float32 input
 * `(pixel / 255 - mean) / std` a model takes.
 *
 * @example
 * ```ts
 * import { prepareImage, readImage } from "@denogpu/resnet/data";
 * const input = prepareImage(await readImage("cat.png"), {
 *   size: 32,
 *   mean: [0.4914, 0.4822, 0.4465],
 *   std: [0.2470, 0.2435, 0.2616],
 * }); // Float32Array of 3 * 32 * 32
 * ```
 */
export function prepareImage(image: RgbImage, options: PrepareOptions): Float32Array {
  const { size, mean, std } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (mean.length !== 3 || std.length !== 3) throw new RangeError("mean and std need 3 values each (RGB)");
  const resize = options.resize ?? (size < 64 ? size : Math.round((size * 256) / 224));
  if (!Number.isInteger(resize) || resize < size) {
    throw new RangeError(`resize must be an integer of at least size ${size}, got ${resize}`);
  }
  const scale = resize / Math.min(image.width, image.height);
  // The shorter side becomes exactly `resize`; the longer keeps the aspect ratio (torchvision truncates).
  const width = image.width <= image.height ? resize : Math.max(resize, Math.floor(image.width * scale));
  const height = image.height < image.width ? resize : Math.max(resize, Math.floor(image.height * scale));
  const cropped = centreCrop(resizeImage(image, width, height), size, size);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (cropped.data[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  return out;
}
