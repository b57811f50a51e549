/**
 * The input pipeline on the CPU: the same batches as {@linkcode GpuBatcher}, bit for bit, for tests and
 * for looking at what the network is fed.
 *
 * @module
 */

import { PADDING_LABEL } from "../ops/cross_entropy.ts";
import type { ImageDataset } from "./dataset.ts";
import { type BatchOptions, type BatchPlan, planBatches, planOrder, selectBatch } from "./batch_plan.ts";
import { draw, DRAW_CROP_LEFT, DRAW_CROP_TOP, DRAW_CUTOUT_X, DRAW_CUTOUT_Y, DRAW_FLIP } from "./random.ts";

/** One batch as {@linkcode cpuBatch} returns it. */
export interface CpuBatch {
  /** `[batchSize, C, H, W]` normalised, augmented images; padding slots are 0. */
  images: Float32Array;
  /** `[batchSize]` labels; padding slots are {@linkcode PADDING_LABEL}. */
  labels: Uint32Array;
  /** Real samples in the batch. */
  count: number;
}

/**
 * Batch `batch` of epoch `epoch`, made on the CPU exactly as the GPU pipeline makes it.
 *
 * @example
 * ```ts
 * import { cpuBatch } from "@denogpu/resnet/data";
 * import { imageDataset } from "@denogpu/resnet";
 * const data = imageDataset({
 *   images: new Uint8Array(4 * 3 * 8 * 8), labels: new Uint8Array(4), channels: 3, height: 8, width: 8,
 *   classes: ["only"],
 * });
 * const options = { batchSize: 3, shuffle: true, augment: true, seed: 1, dropLast: false };
 * const { images, labels, count } = cpuBatch(data, options, 0, 1); // count 1, labels [0, 2^32-1, 2^32-1]
 * ```
 */
export function cpuBatch(
  dataset: ImageDataset,
  options: BatchOptions,
  epoch: number,
  batch: number,
): CpuBatch {
  const plan = planBatches(dataset, options);
  const selection = selectBatch(plan, planOrder(plan, dataset.count, epoch), epoch, batch);
  const imageSize = plan.channels * plan.height * plan.width;
  const images = new Float32Array(plan.batchSize * imageSize);
  const labels = new Uint32Array(plan.batchSize).fill(PADDING_LABEL);
  for (let slot = 0; slot < selection.count; slot++) {
    const index = selection.indices[slot];
    labels[slot] = dataset.labels[index];
    const source = dataset.images.subarray(index * imageSize, (index + 1) * imageSize);
    augmentImage(
      plan,
      source,
      selection.seeds[slot],
      images.subarray(slot * imageSize, (slot + 1) * imageSize),
    );
  }
  return { images, labels, count: selection.count };
}

/** Crops, flips, normalises and cuts out one CHW image, as `shaders/augment.wgsl` does row by row. */
function augmentImage(plan: BatchPlan, source: Uint8Array, seed: number, out: Float32Array): void {
  const { channels, height, width, padding, reflect, table } = plan;
  const span = 2 * padding + 1;
  const top = (draw(seed, DRAW_CROP_TOP) % span) - padding;
  const left = (draw(seed, DRAW_CROP_LEFT) % span) - padding;
  const flipped = plan.flip && (draw(seed, DRAW_FLIP) & 1) === 1;
  const reach = Math.floor(plan.cutout / 2);
  const cutY = plan.cutout > 0 ? draw(seed, DRAW_CUTOUT_Y) % height : 0;
  const cutX = plan.cutout > 0 ? draw(seed, DRAW_CUTOUT_X) % width : 0;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = (c * height + y) * width + x;
        const cut = plan.cutout > 0 && y >= cutY - reach && y < cutY + reach && x >= cutX - reach &&
          x < cutX + reach;
        if (cut) {
          out[at] = 0;
          continue;
        }
        let sy = y + top;
        let sx = (flipped ? width - 1 - x : x) + left;
        if (reflect) {
          sy = reflectIndex(sy, height);
          sx = reflectIndex(sx, width);
        }
        const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        const value = inside ? source[(c * height + sy) * width + sx] : 0;
        out[at] = table[c * 256 + value];
      }
    }
  }
}

/** torchvision's "reflect" padding: the border pixel is not repeated. */
function reflectIndex(i: number, n: number): number {
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}
