/**
 * Data sets and batches: the CIFAR-10/100 binary releases (archive or folder, validated record by record),
 * a generated data set of shapes that needs no download, images in folders, PNG/JPEG decoding,
 * torchvision's transforms (resize, crops, flips, normalisation), batch plans (shuffle, drop-last, padding),
 * the GPU batcher that keeps a data set on the GPU as bytes and crops, flips and normalises each batch
 * there, and its CPU twin.
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
export { AUGMENT_WORDS, defaultAugment, parseAugment } from "./src/data/augment_spec.ts";
export { chwPlanes } from "./src/data/rgb_image.ts";
export {
  type DecodedCrop,
  decodeEntriesParallel,
  type ParallelDecodedEntries,
  type ParallelDecodeOptions,
} from "./src/data/decode_pool.ts";
export { type DecodedSplit, decodeSplit, type DecodeSplitOptions } from "./src/data/decoded_cache.ts";
export { fileImages } from "./src/data/stored_images.ts";
export { loadCifar, type LoadCifarOptions } from "./src/data/cifar.ts";
export {
  CIFAR_LAYOUTS,
  type CifarLabelKind,
  type CifarLayout,
  type CifarName,
} from "./src/data/cifar_layout.ts";
export { type CifarSplits, readCifar, type ReadCifarOptions } from "./src/data/cifar_reader.ts";
export { type CpuBatch, cpuBatch } from "./src/data/cpu_batch.ts";
export { openDataset, type OpenDatasetOptions } from "./src/data/open.ts";
export { loadImageFolder, type LoadImageFolderOptions } from "./src/data/image_folder_dataset.ts";
export {
  datasetFingerprint,
  datasetHead,
  type DatasetSplits,
  type ImageBytes,
  imageBytes,
  type ImageDataset,
  imageDataset,
  type ImageDatasetInit,
  imageSize,
  imageSlotBytes,
  type StoredImages,
} from "./src/data/dataset.ts";
export { draw, epochOrder, mix32, sampleSeed, seed32 } from "./src/data/random.ts";
export {
  syntheticDataset,
  type SyntheticDatasetOptions,
  type SyntheticSplits,
} from "./src/data/synthetic.ts";
export { GpuBatcher, type GpuDataOptions } from "./src/data/gpu_batcher.ts";
export { detectDataset, type DetectedDataset } from "./src/data/detect.ts";
export {
  ImageDecodeError,
  type ImageDecodeErrorInit,
  type ImageProblemKind,
} from "./src/data/image_error.ts";
export {
  type DecodedEntries,
  type DecodedEntry,
  decodeEntries,
  type DecodeEntriesOptions,
  decodeEntry,
  type ImageProblem,
  problemsWarning,
} from "./src/data/image_files.ts";
export {
  hasImageExtension,
  IMAGE_EXTENSIONS,
  type ImageEntry,
  type ImageFolderListing,
  type ImageFolderOptions,
  type ImageFolderSplit,
  type ImageFolderSplits,
  listImageFolder,
  readImageFolder,
} from "./src/data/image_folder.ts";
export { centreCrop, centreWindow, cropImage, type CropWindow, resizeImage } from "./src/data/pixels.ts";
export {
  decodeImage,
  type DecodeOptions,
  type ImageFormat,
  imageFormat,
  readImage,
  type RgbImage,
} from "./src/data/images.ts";
export {
  evalCrop,
  evalResizeSize,
  IMAGENET_NORMALISATION,
  type Normalisation,
  prepareImage,
  type PrepareOptions,
  randomResizedCrop,
  type RandomResizedCropOptions,
  randomResizedCropParams,
  resizedCrop,
  resizedCropImage,
  type ResizedCropOptions,
  type ResizedCropParams,
  resizedSize,
  resizeShorter,
  type StoredCrop,
  storedCrop,
  storedCropBytes,
  toTensor,
  workingImage,
  type WorkingImageOptions,
} from "./src/data/transforms.ts";
