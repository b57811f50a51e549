/**
 * Where each sample of a batch plan comes from: its crop offsets and flip (a `"crop"` plan), or its
 * window of the data-set image (a `"resize"` plan), and its Cutout rectangle, all drawn from the sample's
 * seed on the host. The CPU pipeline and the GPU kernels' tables both take them from here.
 *
 * @module
 */

import type { BatchPlan } from "./batch_plan.ts";
import { draw, DRAW_CROP_LEFT, DRAW_CROP_TOP, DRAW_CUTOUT_X, DRAW_CUTOUT_Y, DRAW_FLIP } from "./random.ts";
import { randomResizedCropParams, type ResizedCropParams } from "./resized_crop_params.ts";
import { roundHalfEven } from "./_round.ts";

/** A `"crop"` plan's window: batch pixel (y, x) reads data-set pixel (y + top, x' + left), x' mirrored. */
export interface CropOffsets {
  top: number;
  left: number;
  flipped: boolean;
}

/** torchvision's `CenterCrop` offset: `int(round((source - size) / 2))`, rounding half to even. */
export function centreOffset(source: number, size: number): number {
  return roundHalfEven((source - size) / 2);
}

/** The columns and rows of a sample's data-set image. */
export interface SourceSize {
  width: number;
  height: number;
}

/** The crop offsets and flip of one sample of a `"crop"` plan, whose data-set image is `image`. */
export function cropOffsets(plan: BatchPlan, seed: number, image: SourceSize): CropOffsets {
  const { padding } = plan;
  const flipped = plan.flip && (draw(seed, DRAW_FLIP) & 1) === 1;
  if (!plan.randomCrop) {
    return {
      top: centreOffset(image.height, plan.height),
      left: centreOffset(image.width, plan.width),
      flipped,
    };
  }
  const spanY = image.height - plan.height + 2 * padding + 1;
  const spanX = image.width - plan.width + 2 * padding + 1;
  return {
    top: (draw(seed, DRAW_CROP_TOP) % spanY) - padding,
    left: (draw(seed, DRAW_CROP_LEFT) % spanX) - padding,
    flipped,
  };
}

/** A Cutout square (rows `[top, bottom)`, columns `[left, right)` of the batch image), unclipped. */
export interface CutoutRect {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The sample's Cutout square (DeVries & Taylor: side `2 * floor(cutout / 2)`, centred anywhere). */
export function cutoutRect(plan: BatchPlan, seed: number): CutoutRect | undefined {
  if (plan.cutout === 0) return undefined;
  const reach = Math.floor(plan.cutout / 2);
  const y = draw(seed, DRAW_CUTOUT_Y) % plan.height;
  const x = draw(seed, DRAW_CUTOUT_X) % plan.width;
  return { top: y - reach, bottom: y + reach, left: x - reach, right: x + reach };
}

/** The window of its data-set image `image` a `"resize"` plan's sample is resized from, and its flip. */
export function resizeWindow(plan: BatchPlan, seed: number, image: SourceSize): ResizedCropParams {
  if (plan.resizedCrop) return randomResizedCropParams(image, { seed, ...plan.resizedCrop, flip: plan.flip });
  return { top: 0, left: 0, ...image, flip: plan.flip && (draw(seed, DRAW_FLIP) & 1) === 1 };
}
