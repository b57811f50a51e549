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
 * const training = await TrainingStep.compile(gpu, resnet20(), {
 *   batchSize: 8,
 *   optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
 * });
 * training.setBatch(new Float32Array(8 * 3 * 32 * 32), new Uint32Array(8));
 * training.step();
 * console.log(await training.readStats());
 * ```
 *
 * @module
 */

export * from "./src/gpu/device.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/nn/graph.ts";
export * from "./src/nn/module.ts";
export * from "./src/nn/parameter.ts";
export * from "./src/nn/layers.ts";
export * from "./src/nn/summary.ts";
export * from "./src/models/resnet.ts";
export * from "./src/compile/gpu_model.ts";
export * from "./src/compile/inference.ts";
export * from "./src/compile/training.ts";
export * from "./src/ops/cross_entropy.ts";
export * from "./src/optim/sgd.ts";
export * from "./src/optim/schedule.ts";
export * from "./src/ops/conv2d.ts";
export * from "./src/ops/linear.ts";
export * from "./src/ops/batchnorm.ts";
export * from "./src/ops/elementwise.ts";
export * from "./src/ops/pool.ts";
export * from "./src/data/mod.ts";
export * from "./src/train/run_config.ts";
export * from "./src/train/fit.ts";
export * from "./src/train/checkpoint.ts";
export * from "./src/train/evaluate.ts";
export * from "./src/train/pretrained.ts";
export * from "./src/train/predict.ts";
export * from "./src/train/report.ts";
export * from "./src/train/tuning.ts";
export * from "./src/data/images.ts";
export * from "./src/io/state_dict.ts";
export * from "./src/io/safetensors.ts";
export * from "./src/io/pth.ts";
export * from "./src/io/atomic.ts";
