/**
 * Files in and out: safetensors and torchvision `.pth` files (read without running pickled code), state
 * dicts and their matching against a model, verified downloads with a progress bar, the cache folder and
 * atomic writes.
 *
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@denogpu/resnet/io";
 *
 * const bytes = encodeSafetensors(new Map([["w", { shape: [2], dtype: "F32", data: new Float32Array([1, 2]) }]]));
 * console.log(decodeSafetensors(bytes).tensors.get("w")?.shape); // [2]
 * ```
 *
 * @module
 */

export {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  type Safetensors,
  type SafetensorsWriteOptions,
  saveSafetensors,
} from "./src/io/safetensors.ts";
export { decodePth, loadPth } from "./src/io/pth.ts";
export {
  decodeTensorBytes,
  type DType,
  elementCount,
  encodeTensorData,
  itemSize,
  type MatchOptions,
  matchStateDict,
  type StateDict,
  type StateDictMatch,
  type TensorData,
} from "./src/io/state_dict.ts";
export {
  type AtomicWriter,
  atomicWriter,
  finishAtomicWrites,
  removeStaleTemporaries,
  writeFileAtomic,
  writeFileAtomicAsync,
  writeFilesAtomicAsync,
} from "./src/io/atomic.ts";
export { defaultCacheDir, torchHubCheckpointDir } from "./src/io/cache.ts";
export { downloadFile, type DownloadOptions } from "./src/io/download.ts";
export {
  type DownloadProgress,
  formatBytes,
  type ProgressOutput,
  progressReporter,
} from "./src/io/progress.ts";
