/**
 * Where torchvision's `RandomResizedCrop` + `RandomHorizontalFlip` take a sample from: the window and the
 * flip, drawn from the sample's seed. Apart from the pixel transforms, so that the GPU pipeline (and the
 * browser) can draw them without the image decoders.
 *
 * @module
 */

import {
  draw,
  DRAW_FLIP,
  DRAW_RESIZED_CROP_ATTEMPTS,
  DRAW_RESIZED_CROP_LEFT,
  DRAW_RESIZED_CROP_TOP,
} from "./random.ts";
import { roundHalfEven } from "./_round.ts";

/** Where a resized crop comes from: a window of the image and whether the result is mirrored. */
export interface ResizedCropParams {
  /** First row of the window. */
  top: number;
  /** First column. */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Mirror the resized crop left to right (torchvision's `hflip`, applied after the resize). */
  flip: boolean;
}

/** The random choices of {@linkcode randomResizedCropParams}. */
export interface RandomResizedCropOptions {
  /** The sample's seed (e.g. from `sampleSeed`); every choice is a {@linkcode draw} of it. */
  seed: number;
  /**
   * Range of the crop's area as a fraction of the image's.
   *
   * @default {[0.08, 1]}
   */
  scale?: readonly [number, number];
  /**
   * Range of the crop's aspect ratio, width over height, sampled log-uniformly.
   *
   * @default {[3 / 4, 4 / 3]}
   */
  ratio?: readonly [number, number];
  /**
   * Flip half of the crops (torchvision's `RandomHorizontalFlip(p=0.5)`).
   *
   * @default {true}
   */
  flip?: boolean;
}

/** torchvision's `RandomResizedCrop.get_params` tries this many random windows before its fallback. */
const ATTEMPTS = 10;

/** A draw as a uniform float in [0, 1), the role of `torch.empty(1).uniform_()`. */
function uniform(seed: number, k: number): number {
  return draw(seed, k) / 0x100000000;
}

/**
 * The window and flip of torchvision's `RandomResizedCrop(scale, ratio)` + `RandomHorizontalFlip()` for
 * one sample: `get_params` step for step (10 attempts at a random area and log-uniform aspect ratio, each
 * side rounded half to even as Python does, then the centre crop with the ratio clamped), with its
 * uniforms drawn from the sample's seed instead of torch's generator:
 * - attempt `a` (0 to 9) takes its area from draw `DRAW_RESIZED_CROP_ATTEMPTS + 2a` (7, 9, ... 25) and its
 *   log aspect ratio from draw `DRAW_RESIZED_CROP_ATTEMPTS + 2a + 1` (8, 10, ... 26);
 * - the accepted window's top row is draw `DRAW_RESIZED_CROP_TOP` (5) modulo the free rows, its left
 *   column draw `DRAW_RESIZED_CROP_LEFT` (6) modulo the free columns;
 * - the flip is the lowest bit of draw `DRAW_FLIP` (2), as in the CIFAR pipeline's flip.
 *
 * @example
 * ```ts
 * import { randomResizedCropParams, sampleSeed } from "@denogpu/resnet/data";
 * const params = randomResizedCropParams({ width: 500, height: 375 }, { seed: sampleSeed(42, 0, 7) });
 * console.log(params); // { top, left, height, width, flip }: the same on every call
 * ```
 *
 * @throws {RangeError} When `scale` is not `0 <= low <= high` or `ratio` not `0 < low <= high`.
 */
export function randomResizedCropParams(
  image: { width: number; height: number },
  options: RandomResizedCropOptions,
): ResizedCropParams {
  const { seed } = options;
  const [scaleLow, scaleHigh] = options.scale ?? [0.08, 1];
  const [ratioLow, ratioHigh] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scaleLow >= 0 && scaleLow <= scaleHigh && Number.isFinite(scaleHigh))) {
    throw new RangeError(`scale must be a range 0 <= low <= high, got [${scaleLow}, ${scaleHigh}]`);
  }
  if (!(ratioLow > 0 && ratioLow <= ratioHigh && Number.isFinite(ratioHigh))) {
    throw new RangeError(`ratio must be a range 0 < low <= high, got [${ratioLow}, ${ratioHigh}]`);
  }
  const flip = (options.flip ?? true) && (draw(seed, DRAW_FLIP) & 1) === 1;
  const { width, height } = image;
  const area = width * height;
  const logLow = Math.log(ratioLow), logHigh = Math.log(ratioHigh);
  for (let a = 0; a < ATTEMPTS; a++) {
    const k = DRAW_RESIZED_CROP_ATTEMPTS + 2 * a;
    const target = area * (scaleLow + (scaleHigh - scaleLow) * uniform(seed, k));
    const aspect = Math.exp(logLow + (logHigh - logLow) * uniform(seed, k + 1));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = draw(seed, DRAW_RESIZED_CROP_TOP) % (height - h + 1);
      const left = draw(seed, DRAW_RESIZED_CROP_LEFT) % (width - w + 1);
      return { top, left, height: h, width: w, flip };
    }
  }
  // No attempt fitted: the largest centred window whose ratio is clamped into the range.
  let w = width, h = height;
  if (width / height < ratioLow) h = roundHalfEven(width / ratioLow);
  else if (width / height > ratioHigh) w = roundHalfEven(height * ratioHigh);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w, flip };
}
