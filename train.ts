/**
 * The training application, everything `cli.ts` does as library calls: run configs with He et al.'s recipe
 * as the default, the fit loop with exact resume, checkpoints (safetensors with torchvision's keys, the
 * optimizer state in torch's layout, a JSON sidecar, all written atomically), evaluation, prediction on
 * image files, transfer learning from torchvision's weights, the HTML report and the cached convolution
 * tuning.
 *
 * ```ts
 * import { learningRate, resolveConfig } from "@denogpu/resnet/train";
 *
 * const config = resolveConfig({ epochs: 30, schedule: "cosine", warmup: 1 });
 * const lr = learningRate(config, 390);
 * console.log(lr(0), lr(390)); // 0.01 0.1
 * ```
 *
 * @module
 */

export {
  ConfigError,
  DEFAULT_CONFIG,
  learningRate,
  OPTIMIZER_NAMES,
  resolveConfig,
  type RunConfig,
  SCHEDULE_NAMES,
  type ScheduleName,
} from "./src/train/run_config.ts";
export { fit, type FitOptions, type FitResult, limitDataset, stopOnInterrupt } from "./src/train/fit.ts";
export { type EpochProgress, type EpochStatus } from "./src/train/fit_progress.ts";
export {
  CHECKPOINT_FORMAT,
  checkpointPaths,
  type EpochMetrics,
  loadCheckpointWeights,
  loadTrainingState,
  type ModelInfo,
  modelInfoOf,
  openCheckpoint,
  type OpenedCheckpoint,
  type PartialEpoch,
  recoverRunFolder,
  resolveWeightsPath,
  restoreEma,
  restoreOptimizer,
  saveCheckpoint,
  type SaveCheckpointOptions,
  type TrainingState,
} from "./src/train/checkpoint.ts";
export {
  type ClassAccuracy,
  evaluate,
  type Evaluation,
  Evaluator,
  type EvaluatorOptions,
  formatEvaluation,
  scoreLogits,
} from "./src/train/evaluate.ts";
export {
  type ClassProbability,
  formatPredictions,
  predictFiles,
  type Prediction,
  topClasses,
} from "./src/train/predict.ts";
export {
  applyFreeze,
  fetchWeights,
  type FetchWeightsOptions,
  IMAGENET_WEIGHTS,
  loadPretrained,
  type PretrainedLoad,
  readStateDict,
} from "./src/train/pretrained.ts";
export { renderReport, type ReportData, writeReport } from "./src/train/report.ts";
export {
  cachedConvTuning,
  loadConvTuning,
  saveConvTuning,
  tuneConvolutionsCached,
  tuningFile,
} from "./src/train/tuning.ts";
export { INPUT_SIZE, isModelName, type ModelEntry, modelNamesOf, modelStem } from "./src/models/table.ts";
