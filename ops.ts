/**
 * The GPU layer of `@denogpu/resnet`, for building and running ops of your own: kernels with named bindings,
 * dispatches, timing, every op's dispatch builders and its definition in the op registry (shape inference,
 * forward and backward lowering), the graph rewrites and the memory planner the compiler runs, the
 * convolution tuning, and the SGD kernels.
 *
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { compose, kernel, submit } from "@denogpu/resnet/ops";
 *
 * const gpu = await Gpu.create();
 * const data = gpu.buffer("data", 4 * 64);
 * const double = kernel(gpu, {
 *   label: "double",
 *   code: compose(`@group(0) @binding(0) var<storage, read_write> values: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *   values[id.x] = 2.0 * values[id.x];
 * }`),
 *   bindings: { values: data },
 *   workgroups: [1, 1, 1],
 * });
 * submit(gpu, [double]);
 * ```
 *
 * @module
 */

export { type AdapterSummary, BINDING_ALIGNMENT } from "./src/gpu/device.ts";
export type { BindingDeclaration, EntryPointInterface, UniformField } from "./src/gpu/_wgsl.ts";
export {
  compose,
  type Dispatch,
  encode,
  grid,
  kernel,
  type KernelSpec,
  numel,
  submit,
  type Tensor,
  tensor,
  usedBindings,
} from "./src/gpu/kernel.ts";
export { timeDispatches, timeEach, type TimingOptions } from "./src/gpu/timing.ts";

export {
  type BackwardContext,
  type ForwardContext,
  type GradientTerm,
  type Mode,
  type NodeContext,
  type OpDefinition,
  type Resolved,
  type StepBuilder,
  type StepTensor,
} from "./src/ops/op.ts";
export { type LayerKind, type LayerSpec, type LayerSpecs, opDefinition, OPS } from "./src/ops/registry.ts";
export {
  conv2dBackwardData,
  conv2dBackwardDataSplits,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dGeometry,
  conv2dGeometry,
  conv2dOp,
  type Conv2dOptions,
  type Conv2dPass,
  conv2dScratchParts,
  type Conv2dSpec,
  conv2dUnrolledWeightShape,
  type ConvTuning,
  defaultConvTuning,
  fixedTiling,
  type GemmKind,
  type GemmTiling,
  type MeasuredConvTuning,
  measuredOn,
  type MeasuredTiling,
  tuneConvolutions,
  type TuneOptions,
  UNTUNED,
  type Window2d,
  type WindowGeometry,
} from "./src/ops/conv2d.ts";
export {
  linearBackward,
  linearForward,
  linearOp,
  type LinearSizes,
  type LinearSpec,
} from "./src/ops/linear.ts";
export {
  batchNorm2dOp,
  type BatchNorm2dSpec,
  batchNormBackward,
  batchNormEval,
  batchNormScratchParts,
  type BatchNormShape,
  batchNormTrain,
} from "./src/ops/batchnorm.ts";
export {
  add,
  addOp,
  type AddSpec,
  reluBackward,
  reluForward,
  reluOp,
  type ReluSpec,
  sumSplits,
} from "./src/ops/elementwise.ts";
export {
  adaptiveAvgPool2dOp,
  type AdaptiveAvgPool2dSpec,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  type GlobalAvgPoolShape,
  maxPool2dBackward,
  maxPool2dForward,
  type MaxPool2dGeometry,
  maxPool2dGeometry,
  maxPool2dOp,
  type MaxPool2dSpec,
} from "./src/ops/pool.ts";
export {
  flattenOp,
  type FlattenSpec,
  identityOp,
  type IdentitySpec,
  inputOp,
  type InputSpec,
} from "./src/ops/view.ts";
export {
  argmax,
  type ArgmaxSizes,
  crossEntropy,
  type CrossEntropySizes,
  type CrossEntropyTensors,
  PADDING_LABEL,
  STATS,
  STATS_LENGTH,
} from "./src/ops/cross_entropy.ts";

export { type ParamGroupRange, Sgd, type SgdBuffers, type SgdCreateOptions } from "./src/optim/sgd.ts";
export { Adam, type AdamBuffers, type AdamCreateOptions, type AdamGroupRange } from "./src/optim/adam.ts";
export { type AveragedBuffers, WeightEma } from "./src/optim/ema.ts";
export type { Optimizer } from "./src/optim/optimizer.ts";
export type { SgdParameterState, SgdParamGroupState } from "./src/optim/sgd_state.ts";
export type { AdamParameterState, AdamParamGroupState } from "./src/optim/adam_state.ts";
export type { OneCycleOptions } from "./src/optim/schedule.ts";

export {
  dropIdentityPools,
  foldBatchNorm,
  fuseRelu,
  fuseResidual,
  type Rewrite,
  rewrite,
} from "./src/compile/fuse.ts";
export { StepPlanner, type VirtualTensor } from "./src/compile/memory.ts";
export type { ParameterRange } from "./src/compile/gpu_model.ts";
export type { Scratch } from "./src/ops/_scratch.ts";
export type { Node } from "./src/nn/graph.ts";
export { type FanMode, fans, type KaimingOptions, normal, uniform } from "./src/nn/init.ts";
