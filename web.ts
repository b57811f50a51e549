/**
 * The browser entry point of `@denogpu/resnet`: everything a web page needs to build, load, train and run a
 * ResNet on the page's WebGPU, from modules that use no `Deno.*` and no `node:` module. Files come in as
 * bytes (a file picked by the user, a `fetch`), never as paths.
 *
 * `deno task bundle:web` bundles this module, WGSL shaders included, into `examples/web/dist/resnet.js`.
 *
 * ```ts
 * import { decodeSafetensors, Gpu, Inference, resnet20 } from "@denogpu/resnet/web";
 *
 * const gpu = await Gpu.create();
 * const model = resnet20({ seed: 0 });
 * const bytes = new Uint8Array(await (await fetch("resnet20.safetensors")).arrayBuffer());
 * model.loadStateDict(decodeSafetensors(bytes, "resnet20.safetensors").tensors);
 * const inference = await Inference.compile(gpu, model, { batchSize: 1, inputShape: [3, 32, 32] });
 * const logits = await inference.run(new Float32Array(3 * 32 * 32)); // [1, 10]
 * ```
 *
 * @module
 */

export { type AdapterSummary, Gpu, type GpuOptions } from "./src/gpu/device.ts";
export {
  compose,
  type Dispatch,
  encode,
  kernel,
  type KernelSpec,
  submit,
  type Tensor,
  tensor,
} from "./src/gpu/kernel.ts";

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
export type { AdamOptions } from "./src/optim/adam.ts";
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

export { decodeSafetensors, encodeSafetensors, type Safetensors } from "./src/io/safetensors_codec.ts";
export {
  decodeTensorBytes,
  type DType,
  elementCount,
  encodeTensorData,
  type MatchOptions,
  matchStateDict,
  type StateDict,
  type StateDictMatch,
  type TensorData,
} from "./src/io/state_dict.ts";

export { type ImageDataset, imageDataset, type ImageDatasetInit } from "./src/data/dataset.ts";
export {
  CIFAR_IMAGE_BYTES,
  CIFAR_LAYOUTS,
  type CifarLabelKind,
  type CifarLayout,
  type CifarName,
  recordBytes,
} from "./src/data/cifar_layout.ts";
export { assembleCifarSplit, type CifarFile, parseClassNames } from "./src/data/cifar_records.ts";
export {
  type AugmentOptions,
  type BatchOptions,
  type BatchPlan,
  normalisationTable,
  planBatches,
} from "./src/data/batch_plan.ts";
export { type CpuBatch, cpuBatch } from "./src/data/cpu_batch.ts";
export { GpuBatcher, type GpuDataOptions } from "./src/data/gpu_batcher.ts";
export {
  syntheticDataset,
  type SyntheticDatasetOptions,
  type SyntheticSplits,
} from "./src/data/synthetic.ts";
export { draw, epochOrder, mix32, sampleSeed, seed32 } from "./src/data/random.ts";
export { PADDING_LABEL } from "./src/ops/cross_entropy.ts";
