/**
 * Data: the CIFAR-10/100 reader and downloader, the generic in-memory image data set, and the input
 * pipeline that makes shuffled, augmented, normalised batches on the GPU (or, identically, on the CPU).
 *
 * @module
 */

export { type ArchiveContents, readArchive } from "./archive.ts";
export {
  type AugmentOptions,
  type BatchOptions,
  type BatchPlan,
  type BatchSelection,
  normalisationTable,
  planBatches,
} from "./batch_plan.ts";
export { defaultCacheDir, loadCifar, type LoadCifarOptions } from "./cifar.ts";
export { CIFAR_LAYOUTS, type CifarLabelKind, type CifarLayout, type CifarName } from "./cifar_layout.ts";
export { type CifarSplits, readCifar, type ReadCifarOptions } from "./cifar_reader.ts";
export { type CpuBatch, cpuBatch } from "./cpu_batch.ts";
export { type ImageDataset, imageDataset, type ImageDatasetInit } from "./dataset.ts";
export { downloadFile, type DownloadOptions } from "../io/download.ts";
export { GpuBatcher, type GpuDataOptions } from "./gpu_batcher.ts";
export { type DownloadProgress, type ProgressOutput, progressReporter } from "../io/progress.ts";
