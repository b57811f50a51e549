/**
 * The input pipeline on the CPU: the same batches as {@linkcode GpuBatcher}, bit for bit, for tests and
 * for looking at what the network is fed.
 *
 * @module
 */

import { PADDING_LABEL } from "../ops/cross_entropy.ts";
import { imageBytes, type ImageDataset, imageSize } from "./dataset.ts";
import { type BatchOptions, type BatchPlan, planBatches, planOrder, selectBatch } from "./batch_plan.ts";
import { cropOffsets, cutoutRect, resizeWindow, type SourceSize } from "./_sample_window.ts";
import { resizedCropImage } from "./transforms.ts";

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
  const outSize = plan.channels * plan.height * plan.width;
  const images = new Float32Array(plan.batchSize * outSize);
  const labels = new Uint32Array(plan.batchSize).fill(PADDING_LABEL);
  for (let slot = 0; slot < selection.count; slot++) {
    const index = selection.indices[slot];
    labels[slot] = dataset.labels[index];
    const source = imageBytes(dataset, index, 1);
    const out = images.subarray(slot * outSize, (slot + 1) * outSize);
    const seed = selection.seeds[slot];
    const sample = { source, size: imageSize(dataset, index), seed };
    if (plan.kind === "crop") cropImage(plan, sample, out);
    else resizeImage(plan, sample, out);
    const cut = cutoutRect(plan, seed);
    if (cut) {
      for (let i = 0; i < outSize; i++) {
        const x = i % plan.width, y = Math.floor(i / plan.width) % plan.height;
        if (y >= cut.top && y < cut.bottom && x >= cut.left && x < cut.right) out[i] = 0;
      }
    }
  }
  return { images, labels, count: selection.count };
}

/** One sample's data-set image (CHW bytes of its own size) and augmentation seed. */
interface Sample {
  source: Uint8Array;
  size: SourceSize;
  seed: number;
}

/** Crops, flips and normalises one CHW image of its own size, as `shaders/augment.wgsl` does row by row. */
function cropImage(plan: BatchPlan, sample: Sample, out: Float32Array): void {
  const { source, size, seed } = sample;
  const { channels, height, width, reflect, table } = plan;
  const { height: sourceHeight, width: sourceWidth } = size;
  const { top, left, flipped } = cropOffsets(plan, seed, size);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sy = y + top;
        let sx = (flipped ? width - 1 - x : x) + left;
        if (reflect) {
          sy = reflectIndex(sy, sourceHeight);
          sx = reflectIndex(sx, sourceWidth);
        }
        const inside = sy >= 0 && sy < sourceHeight && sx >= 0 && sx < sourceWidth;
        const value = inside ? source[(c * sourceHeight + sy) * sourceWidth + sx] : 0;
        out[(c * height + y) * width + x] = table[c * 256 + value];
      }
    }
  }
}

/** Resizes one CHW RGB image's window with PIL's filter and normalises it, as `resized_crop.wgsl` does. */
function resizeImage(plan: BatchPlan, sample: Sample, out: Float32Array): void {
  const { source, size, seed } = sample;
  const { height, width } = size;
  const plane = height * width;
  const data = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) data[p * 3 + c] = source[c * plane + p];
  const resized = resizedCropImage({ width, height, data }, resizeWindow(plan, seed, size), plan.width).data;
  const outPlane = plan.width * plan.height;
  for (let p = 0; p < outPlane; p++) {
    for (let c = 0; c < 3; c++) out[c * outPlane + p] = plan.table[c * 256 + resized[p * 3 + c]];
  }
}

/** torchvision's "reflect" padding: the border pixel is not repeated. */
function reflectIndex(i: number, n: number): number {
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}
