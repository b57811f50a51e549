/**
 * torchvision's image transforms on the CPU, equal to them on PIL images: `Resize` of the shorter side,
 * `CenterCrop`, the evaluation recipe built from the two, and the training recipe `RandomResizedCrop` +
 * `RandomHorizontalFlip`, whose random choices come from our seeded stream (`draw` of a sample's seed)
 * instead of torch's generator. Each ends in `ToTensor` + `Normalize`: a CHW float32 tensor.
 *
 * @module
 */

import { normalisationTable } from "./batch_plan.ts";
import { centreWindow, cropImage, resizeImage } from "./pixels.ts";
import type { RgbImage } from "./rgb_image.ts";
import {
  type RandomResizedCropOptions,
  randomResizedCropParams,
  type ResizedCropParams,
} from "./resized_crop_params.ts";
import { roundHalfEven } from "./_round.ts";

export { type RandomResizedCropOptions, randomResizedCropParams, type ResizedCropParams };

/** Per-channel statistics of pixels scaled to [0, 1], as torchvision's `Normalize` takes them. */
export interface Normalisation {
  /** Mean of each of R, G and B. */
  mean: readonly number[];
  /** Standard deviation of each of R, G and B. */
  std: readonly number[];
}

/** The statistics torchvision's ImageNet weights were trained with (`transforms.Normalize` in its presets). */
export const IMAGENET_NORMALISATION: Readonly<Normalisation> = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

function checkSize(what: string, size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${size}`);
  }
}

/**
 * The size torchvision's `Resize(size)` gives an image: the shorter side becomes `size` and the longer
 * `int(size * long / short)`, truncated (torchvision 0.14's `_compute_resized_output_size`); a square
 * stays square.
 *
 * @example
 * ```ts
 * import { resizedSize } from "@denogpu/resnet/data";
 * console.log(resizedSize({ width: 37, height: 23 }, 18)); // { width: 28, height: 18 }: 18 * 37 / 23 = 28.96
 * ```
 *
 * @throws {RangeError} When `size` is not a positive integer.
 */
export function resizedSize(
  image: { width: number; height: number },
  size: number,
): { width: number; height: number } {
  checkSize("resize", size);
  const { width, height } = image;
  // size * long is exact, and one IEEE division rounds as Python's true division of integers does.
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/**
 * torchvision's `Resize(size)` on a PIL image: the shorter side to `size` (see {@linkcode resizedSize})
 * with PIL's antialiased bilinear filter, byte for byte.
 *
 * @example
 * ```ts
 * import { resizeShorter } from "@denogpu/resnet/data";
 * const image = resizeShorter({ width: 8, height: 4, data: new Uint8Array(8 * 4 * 3) }, 2);
 * console.log(image.width, image.height); // 4 2
 * ```
 *
 * @throws {RangeError} When `size` is not a positive integer.
 */
export function resizeShorter(image: RgbImage, size: number): RgbImage {
  const { width, height } = resizedSize(image, size);
  return resizeImage(image, width, height);
}

/**
 * torchvision's `ToTensor` + `Normalize`: HWC bytes to the CHW float32 `(byte / 255 - mean) / std`
 * (through the lookup table the GPU batches use, computed in float64 and rounded once).
 *
 * @example
 * ```ts
 * import { toTensor } from "@denogpu/resnet/data";
 * const image = { width: 1, height: 1, data: new Uint8Array([255, 0, 51]) };
 * console.log(toTensor(image, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.2] })); // [1, -1, -1.5]
 * ```
 *
 * @throws {RangeError} When `mean` or `std` has other than 3 values, or a std is not positive.
 */
export function toTensor(image: RgbImage, normalisation: Normalisation): Float32Array {
  const table = normalisationTable(3, normalisation.mean, normalisation.std);
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = table[c * 256 + image.data[i * 3 + c]];
  }
  return out;
}

/**
 * The shorter side the evaluation transform resizes to before its centre crop of `size`:
 * `round(size * 256 / 224)`, the ratio of torchvision's ImageNet preset (`ImageClassification(crop_size=224,
 * resize_size=256)`), rounded to the nearest integer (timm truncates instead, which differs for sizes such
 * as 96: 110 here, 109 there).
 *
 * @example
 * ```ts
 * import { evalResizeSize } from "@denogpu/resnet/data";
 * console.log(evalResizeSize(224), evalResizeSize(16)); // 256 18
 * ```
 *
 * @throws {RangeError} When `size` is not a positive integer.
 */
export function evalResizeSize(size: number): number {
  checkSize("size", size);
  return roundHalfEven((size * 256) / 224);
}

/** How {@linkcode prepareImage} turns a picture into a model input. */
export interface PrepareOptions extends Normalisation {
  /** The model's input side (square inputs), e.g. 32 for CIFAR models, 224 for ImageNet ones. */
  size: number;
  /**
   * The shorter side is resized to this before the centre crop of `size` (torchvision's `Resize`); by
   * default `size` itself for inputs under 64 pixels (the whole picture, as CIFAR's images are) and
   * {@linkcode evalResizeSize} otherwise (the ImageNet evaluation recipe).
   */
  resize?: number;
}

/**
 * The evaluation transform: torchvision's `Resize(resize)` + `CenterCrop(size)` + `ToTensor` +
 * `Normalize(mean, std)` on a PIL image, giving the CHW float32 input a model takes.
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
 *
 * @throws {RangeError} When `size` is not a positive integer, `resize` not an integer of at least `size`,
 * or `mean` and `std` not 3 values each.
 */
export function prepareImage(image: RgbImage, options: PrepareOptions): Float32Array {
  return toTensor(evalCrop(image, options), options);
}

/**
 * The pixels {@linkcode prepareImage} normalises: the shorter side resized to `resize`, then the centre
 * `size` x `size` window. Data sets store these bytes, so that training, evaluation and prediction see a
 * picture alike.
 *
 * @example
 * ```ts
 * import { evalCrop } from "@denogpu/resnet/data";
 * const crop = evalCrop({ width: 300, height: 200, data: new Uint8Array(300 * 200 * 3) }, { size: 224 });
 * console.log(crop.width, crop.height); // 224 224
 * ```
 *
 * @throws {RangeError} When `size` is not a positive integer or `resize` is below it.
 */
export function evalCrop(image: RgbImage, options: { size: number; resize?: number }): RgbImage {
  const { size } = options;
  checkSize("size", size);
  const resize = options.resize ?? (size < 64 ? size : evalResizeSize(size));
  if (!Number.isInteger(resize) || resize < size) {
    throw new RangeError(`resize must be an integer of at least size ${size}, got ${resize}`);
  }
  const resized = resizedSize(image, resize);
  return resizeImage(image, resized.width, resized.height, centreWindow(resized, size, size));
}

/**
 * The image a training split keeps for its random crops: torchvision's `Resize(resize)` (the shorter side
 * to `resize`), then the centre of the longer side, at most `longest` pixels (and a multiple of 4 fewer
 * than it had, so that any centre crop of the working image is the resized image's), so that a photo
 * keeps its aspect ratio up to about `longest / resize` and the bytes kept per image are bounded.
 *
 * @example
 * ```ts
 * import { workingImage } from "@denogpu/resnet/data";
 * const image = { width: 600, height: 300, data: new Uint8Array(600 * 300 * 3) };
 * const kept = workingImage(image, { resize: 256, longest: 341 });
 * console.log(kept.width, kept.height); // 341 256
 * ```
 *
 * @throws {RangeError} When `resize` is not a positive integer or `longest` is not an integer of at
 * least `resize + 3` (the cut of a multiple of 4 must leave the longer side longer).
 */
export function workingImage(image: RgbImage, options: WorkingImageOptions): RgbImage {
  const { resize, longest } = options;
  checkSize("resize", resize);
  if (!Number.isInteger(longest) || longest < resize + 3) {
    throw new RangeError(`longest must be an integer of at least resize + 3 (${resize + 3}), got ${longest}`);
  }
  const resized = resizedSize(image, resize);
  // Cutting a multiple of 4 pixels makes the cut even on both sides, so that a centre crop of the
  // working image is the resized image's own centre crop, rounding included.
  const keep = (side: number) => side <= longest ? side : side - 4 * Math.ceil((side - longest) / 4);
  const kept = centreWindow(resized, keep(resized.width), keep(resized.height));
  return resizeImage(image, resized.width, resized.height, kept);
}

/** Options of {@linkcode workingImage}. */
export interface WorkingImageOptions {
  /** The shorter side after the resize. */
  resize: number;
  /** The most pixels of the longer side kept. */
  longest: number;
}

/** What a data set keeps of each image: {@linkcode evalCrop}'s square or the {@linkcode workingImage}. */
export type StoredCrop = { size: number; resize?: number } | WorkingImageOptions;

/**
 * The bytes a data set keeps of `image`: {@linkcode workingImage} for a `longest`, else {@linkcode evalCrop}.
 *
 * @example
 * ```ts
 * import { storedCrop } from "@denogpu/resnet/data";
 * const image = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 3) };
 * console.log(storedCrop(image, { size: 224 }).width); // 224
 * console.log(storedCrop(image, { resize: 256, longest: 341 }).width); // 341
 * ```
 *
 * @throws {RangeError} As those two do, for options out of range.
 */
export function storedCrop(image: RgbImage, crop: StoredCrop): RgbImage {
  return "longest" in crop ? workingImage(image, crop) : evalCrop(image, crop);
}

/**
 * The most RGB bytes {@linkcode storedCrop} keeps of any image: the slot each image of a data set takes.
 *
 * @example
 * ```ts
 * import { storedCropBytes } from "@denogpu/resnet/data";
 * console.log(storedCropBytes({ size: 224 }), storedCropBytes({ resize: 256, longest: 341 })); // 150528 261888
 * ```
 */
export function storedCropBytes(crop: StoredCrop): number {
  return "longest" in crop ? 3 * crop.resize * crop.longest : 3 * crop.size * crop.size;
}

/** The output of {@linkcode resizedCrop} and {@linkcode randomResizedCrop}. */
export interface ResizedCropOptions extends Normalisation {
  /** Side of the square output. */
  size: number;
}

/**
 * torchvision's `F.resized_crop(image, top, left, height, width, [size, size])` on a PIL image (the crop,
 * then PIL's antialiased bilinear resize of it), `hflip` when `params.flip`, then `ToTensor` +
 * `Normalize`: the CHW float32 tensor.
 *
 * @example
 * ```ts
 * import { resizedCrop } from "@denogpu/resnet/data";
 * const image = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(128) };
 * const input = resizedCrop(image, { top: 1, left: 2, height: 4, width: 5, flip: true }, {
 *   size: 4,
 *   mean: [0.485, 0.456, 0.406],
 *   std: [0.229, 0.224, 0.225],
 * }); // Float32Array of 3 * 4 * 4
 * ```
 *
 * @throws {RangeError} When the window is not inside the image, `size` is not a positive integer, or
 * `mean` and `std` are not 3 values each.
 */
export function resizedCrop(
  image: RgbImage,
  params: ResizedCropParams,
  options: ResizedCropOptions,
): Float32Array {
  return toTensor(resizedCropImage(image, params, options.size), options);
}

/**
 * The bytes of {@linkcode resizedCrop} before `ToTensor`: the window resized to `size` x `size` with
 * PIL's antialiased bilinear filter, mirrored when `params.flip`.
 *
 * @example
 * ```ts
 * import { resizedCropImage } from "@denogpu/resnet/data";
 * const image = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(128) };
 * const crop = resizedCropImage(image, { top: 1, left: 2, height: 4, width: 5, flip: false }, 4);
 * console.log(crop.width, crop.data[0]); // 4 128
 * ```
 *
 * @throws {RangeError} When the window is not inside the image or `size` is not a positive integer.
 */
export function resizedCropImage(image: RgbImage, params: ResizedCropParams, size: number): RgbImage {
  checkSize("size", size);
  const resized = resizeImage(cropImage(image, params), size, size);
  if (params.flip) {
    const row = new Uint8Array(size * 3);
    for (let y = 0; y < size; y++) {
      const line = resized.data.subarray(y * size * 3, (y + 1) * size * 3);
      for (let x = 0; x < size; x++) row.set(line.subarray((size - 1 - x) * 3, (size - x) * 3), x * 3);
      line.set(row);
    }
  }
  return resized;
}

/**
 * The training transform: torchvision's `RandomResizedCrop(size, scale, ratio)` +
 * `RandomHorizontalFlip()` + `ToTensor` + `Normalize(mean, std)`, its choices those of
 * {@linkcode randomResizedCropParams} for `options.seed`.
 *
 * @example
 * ```ts
 * import { randomResizedCrop, sampleSeed } from "@denogpu/resnet/data";
 * const image = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3) };
 * const input = randomResizedCrop(image, {
 *   size: 16,
 *   seed: sampleSeed(42, 0, 7),
 *   mean: [0.485, 0.456, 0.406],
 *   std: [0.229, 0.224, 0.225],
 * }); // Float32Array of 3 * 16 * 16
 * ```
 *
 * @throws {RangeError} As {@linkcode randomResizedCropParams} and {@linkcode resizedCrop} do.
 */
export function randomResizedCrop(
  image: RgbImage,
  options: RandomResizedCropOptions & ResizedCropOptions,
): Float32Array {
  return resizedCrop(image, randomResizedCropParams(image, options), options);
}
