/**
 * Train, fine-tune and evaluate torchvision-compatible ResNets with WGSL compute shaders on WebGPU, in Deno.
 *
 * Load torchvision weights from a `.safetensors` file and get logits:
 *
 * ```ts
 * import { Gpu, Inference, loadSafetensors, resnet18 } from "@denogpu/resnet";
 *
 * const gpu = await Gpu.create();
 * const model = resnet18();
 * model.loadStateDict((await loadSafetensors("resnet18.safetensors")).tensors);
 * const inference = await Inference.compile(gpu, model, { batchSize: 2, inputShape: [3, 224, 224] });
 * const logits = await inference.run(new Float32Array(2 * 3 * 224 * 224)); // [2, 1000], row-major
 * ```
 *
 * Train a CIFAR ResNet one step at a time:
 *
 * ```ts
 * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
 *
 * const gpu = await Gpu.create();
 * const training = await TrainingStep.compile(gpu, resnet20({ seed: 0 }), {
 *   batchSize: 8,
 *   optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
 * });
 * training.setBatch(new Float32Array(8 * 3 * 32 * 32), new Uint32Array(8));
 * training.step();
 * console.log(await training.readStats());
 * ```
 *
 * This module holds what a user of the library needs; the subpaths hold the rest:
 * `@denogpu/resnet/ops` (GPU kernels, op definitions, the op registry, convolution tuning),
 * `@denogpu/resnet/io` (safetensors, `.pth`, state dicts, downloads, atomic writes),
 * `@denogpu/resnet/data` (CIFAR, image folders, batching and augmentation) and
 * `@denogpu/resnet/train` (the training application: run configs, checkpoints, reports, prediction).
 *
 * @module
 */

export { Gpu, type GpuOptions } from "./src/gpu/device.ts";

export { Module, Sequential } from "./src/nn/module.ts";
export { Parameter } from "./src/nn/parameter.ts";
export {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  type Conv2dLayerOptions,
  Flatten,
  Identity,
  Linear,
  MaxPool2d,
  type Pair,
  ReLU,
} from "./src/nn/layers.ts";
export { Generator, kaimingNormal, kaimingUniform } from "./src/nn/init.ts";
export { Graph, SymbolicTensor } from "./src/nn/graph.ts";
export { type Summary, summary, type SummaryRow } from "./src/nn/summary.ts";

export {
  BasicBlock,
  type BlockClass,
  type BlockOptions,
  Bottleneck,
  CifarResNet,
  type CifarResNetOptions,
  conv1x1,
  conv3x3,
  makeLayer,
  ResNet,
  resnet101,
  resnet110,
  resnet152,
  resnet18,
  resnet20,
  resnet32,
  resnet34,
  resnet44,
  resnet50,
  resnet56,
  type ResNetOptions,
  resnext101_32x8d,
  resnext101_64x4d,
  resnext50_32x4d,
  type ResNeXtOptions,
  type Stem,
  wide_resnet101_2,
  wide_resnet50_2,
} from "./src/models/resnet.ts";
export { buildModel, MODEL_NAMES, type ModelName, type ModelOptions, MODELS } from "./src/models/table.ts";

export {
  type OptimizerOptions,
  type ParameterGroup,
  type TrainingOptions,
  type TrainingStats,
  TrainingStep,
} from "./src/compile/training.ts";
export { Inference, type InferenceOptions } from "./src/compile/inference.ts";
export { GpuModel } from "./src/compile/gpu_model.ts";
export { DivergenceError } from "./src/compile/divergence.ts";

export type { SgdOptions } from "./src/optim/sgd.ts";
export type { SgdStateDict } from "./src/optim/sgd_state.ts";
export type { AdamOptions } from "./src/optim/adam.ts";
export type { AdamStateDict } from "./src/optim/adam_state.ts";
export type { OptimizerKind, OptimizerStateDict } from "./src/optim/optimizer.ts";
export {
  cosineAnnealingLr,
  linearLr,
  multiStepLr,
  oneCycleLr,
  type Schedule,
  sequentialLr,
  stepLr,
} from "./src/optim/schedule.ts";

export { loadSafetensors, saveSafetensors } from "./src/io/safetensors.ts";
export { loadPth } from "./src/io/pth.ts";
export type { StateDict, TensorData } from "./src/io/state_dict.ts";

export { loadCifar } from "./src/data/cifar.ts";
export { openDataset } from "./src/data/open.ts";
export { imageDataset } from "./src/data/dataset.ts";

export { fit, type FitOptions, type FitResult } from "./src/train/fit.ts";
export type { RunConfig } from "./src/train/run_config.ts";
export { evaluate } from "./src/train/evaluate.ts";
export { tuneConvolutionsCached } from "./src/train/tuning.ts";
