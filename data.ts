/**
 * Data sets and batches: the CIFAR-10/100 binary releases (archive or folder, validated record by record),
 * images in folders, PNG/JPEG decoding and resizing, batch plans (shuffle, drop-last, padding), the GPU
 * batcher that keeps a data set on the GPU as bytes and crops, flips and normalises each batch there, and
 * its CPU twin.
 *
 * ```ts
 * import { epochOrder } from "@denogpu/resnet/data";
 *
 * const order = epochOrder(10, true, 42, 0); // the shuffle of epoch 0 under seed 42: a permutation of 0..9
 * console.log(order.length); // 10
 * ```
 *
 * @module
 */

export { type ArchiveContents, readArchive } from "./src/data/archive.ts";
export {
  type AugmentOptions,
  type BatchOptions,
  type BatchPlan,
  type BatchSelection,
  normalisationTable,
  planBatches,
} from "./src/data/batch_plan.ts";
export { loadCifar, type LoadCifarOptions } from "./src/data/cifar.ts";
export {
  CIFAR_LAYOUTS,
  type CifarLabelKind,
  type CifarLayout,
  type CifarName,
} from "./src/data/cifar_layout.ts";
export { type CifarSplits, readCifar, type ReadCifarOptions } from "./src/data/cifar_reader.ts";
export { type CpuBatch, cpuBatch } from "./src/data/cpu_batch.ts";
export { type ImageDataset, imageDataset, type ImageDatasetInit } from "./src/data/dataset.ts";
export { draw, epochOrder, mix32, sampleSeed, seed32 } from "./src/data/random.ts";
export { GpuBatcher, type GpuDataOptions } from "./src/data/gpu_batcher.ts";
export {
  centreCrop,
  decodeImage,
  type ImageFormat,
  imageFormat,
  prepareImage,
  type PrepareOptions,
  readImage,
  resizeImage,
  type RgbImage,
} from "./src/data/images.ts";
