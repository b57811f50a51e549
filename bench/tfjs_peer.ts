/**
 * The TensorFlow.js peer of the training bench: torchvision's resnet18 (BasicBlock, [2, 2, 2, 2], ImageNet
 * or CIFAR stem, no bias before BatchNorm) written with TensorFlow.js ops on its WebGPU backend, with a
 * training step (`tf.variableGrads`, softmax cross-entropy, SGD with momentum, BatchNorm running statistics
 * updated as PyTorch does) and an eval-mode forward pass. It runs in NHWC, the layout TensorFlow.js is
 * written for, so the peer is measured at its best.
 *
 * TensorFlow.js is a dev-only peer: it is imported here, with full `npm:` specifiers, and nowhere in the
 * module.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- a dev-only peer: kept out of deno.json so it is never a dependency
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// tfjs-core's bundles register no gradients, and its ES modules that do cannot be loaded outside a bundler
// (extensionless imports); the `@tensorflow/tfjs` bundle registers them into the same tfjs-core.
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import type { WebGPUBackend } from "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

/** Options of {@linkcode TfjsResNet18.create}. */
export interface TfjsPeerOptions {
  /** Images per step. */
  batchSize: number;
  /** torchvision's 7x7 stride-2 stem with max-pool, or the 3x3 stride-1 CIFAR stem. */
  stem: "imagenet" | "cifar";
  /** Classifier outputs. */
  numClasses: number;
  /** Square input size in pixels (32 for CIFAR-sized inputs). */
  imageSize: number;
  /** SGD learning rate and momentum (PyTorch's formulation: v = m v + g; w -= lr v). */
  lr: number;
  /** SGD momentum. */
  momentum: number;
}

interface BatchNorm {
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
  runningMean: tf.Variable<tf.Rank.R1>;
  runningVar: tf.Variable<tf.Rank.R1>;
}

interface Block {
  conv1: tf.Variable;
  bn1: BatchNorm;
  conv2: tf.Variable;
  bn2: BatchNorm;
  stride: number;
  downsample?: { conv: tf.Variable; bn: BatchNorm };
}

const BATCH_NORM_EPSILON = 1e-5;
const BATCH_NORM_MOMENTUM = 0.1;

/**
 * Loads the WebGPU backend and makes it current (it asks for the "high-performance" adapter); throws where
 * it cannot. Returns TensorFlow.js's version.
 */
export async function initTfjsWebGpu(): Promise<string> {
  // deno-lint-ignore no-import-prefix
  await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("tf.setBackend('webgpu') returned false: the WebGPU backend failed to initialise");
  }
  await tf.ready();
  return tf.version_core;
}

/** Bytes TensorFlow.js's WebGPU backend holds on the GPU, its pool of free buffers included. */
export function tfjsGpuBytes(): number {
  return (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? 0;
}

/**
 * resnet18 in TensorFlow.js, with random He-initialised weights (speed does not depend on their values).
 *
 * @example
 * ```ts
 * import { initTfjsWebGpu, TfjsResNet18 } from "./tfjs_peer.ts";
 * await initTfjsWebGpu();
 * const peer = TfjsResNet18.create({
 *   batchSize: 8, stem: "imagenet", numClasses: 10, imageSize: 32, lr: 0.01, momentum: 0.9,
 * });
 * peer.trainStep();
 * await peer.idle();
 * ```
 */
export class TfjsResNet18 {
  readonly #options: TfjsPeerOptions;
  readonly #stem: { conv: tf.Variable; bn: BatchNorm };
  readonly #blocks: Block[];
  readonly #fc: { weight: tf.Variable; bias: tf.Variable };
  readonly #trainable: tf.Variable[];
  readonly #optimizer: tf.MomentumOptimizer;
  readonly #images: tf.Tensor4D;
  readonly #oneHotLabels: tf.Tensor2D;

  private constructor(options: TfjsPeerOptions) {
    this.#options = options;
    const stemKernel = options.stem === "cifar" ? 3 : 7;
    this.#stem = { conv: convWeight(stemKernel, 3, 64), bn: batchNorm(64) };
    this.#blocks = [];
    let inPlanes = 64;
    for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
      for (let i = 0; i < 2; i++) {
        const s = i === 0 ? stride : 1;
        this.#blocks.push({
          conv1: convWeight(3, inPlanes, planes),
          bn1: batchNorm(planes),
          conv2: convWeight(3, planes, planes),
          bn2: batchNorm(planes),
          stride: s,
          downsample: s !== 1 || inPlanes !== planes
            ? { conv: convWeight(1, inPlanes, planes), bn: batchNorm(planes) }
            : undefined,
        });
        inPlanes = planes;
      }
    }
    const bound = 1 / Math.sqrt(512);
    this.#fc = {
      weight: tf.variable(tf.randomUniform([512, options.numClasses], -bound, bound)),
      bias: tf.variable(tf.randomUniform([options.numClasses], -bound, bound)),
    };
    const norms = [
      this.#stem.bn,
      ...this.#blocks.flatMap((b) => [b.bn1, b.bn2, ...(b.downsample ? [b.downsample.bn] : [])]),
    ];
    this.#trainable = [
      this.#stem.conv,
      ...this.#blocks.flatMap((b) => [b.conv1, b.conv2, ...(b.downsample ? [b.downsample.conv] : [])]),
      ...norms.flatMap((n) => [n.gamma, n.beta]),
      this.#fc.weight,
      this.#fc.bias,
    ];
    this.#optimizer = tf.train.momentum(options.lr, options.momentum);
    const size = options.imageSize;
    this.#images = tf.randomUniform([options.batchSize, size, size, 3], -1, 1);
    const labels = Array.from({ length: options.batchSize }, (_, i) => i % options.numClasses);
    this.#oneHotLabels = tf.cast(
      tf.oneHot(tf.tensor1d(labels, "int32"), options.numClasses),
      "float32",
    ) as tf.Tensor2D;
  }

  /** Builds the model, its optimizer and a fixed random batch on the current (WebGPU) backend. */
  static create(options: TfjsPeerOptions): TfjsResNet18 {
    return new TfjsResNet18(options);
  }

  /** Number of trainable parameters (11,181,642 with 10 classes, as torchvision's). */
  get parameterCount(): number {
    return this.#trainable.reduce((sum, v) => sum + v.size, 0);
  }

  /** One SGD step on the fixed batch: forward in train mode, backward, update, running statistics. */
  trainStep(): void {
    const batchStats: Array<{ bn: BatchNorm; mean: tf.Tensor1D; variance: tf.Tensor1D; count: number }> = [];
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.#forward(this.#images, (bn, x) => {
        const moments = tf.moments(x, [0, 1, 2]);
        const mean = moments.mean as tf.Tensor1D, variance = moments.variance as tf.Tensor1D;
        batchStats.push({
          bn,
          mean: tf.keep(mean),
          variance: tf.keep(variance),
          count: x.size / x.shape[3],
        });
        return tf.batchNorm4d(x, mean, variance, bn.beta, bn.gamma, BATCH_NORM_EPSILON);
      });
      return tf.losses.softmaxCrossEntropy(this.#oneHotLabels, logits) as tf.Scalar;
    }, this.#trainable);
    this.#optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    tf.tidy(() => {
      for (const { bn, mean, variance, count } of batchStats) {
        // PyTorch keeps the unbiased variance in running_var.
        const unbiased: tf.Tensor1D = tf.mul(variance, count / Math.max(1, count - 1));
        bn.runningMean.assign(blend(bn.runningMean, mean));
        bn.runningVar.assign(blend(bn.runningVar, unbiased));
      }
    });
    tf.dispose([value, ...Object.values(grads), ...batchStats.flatMap((s) => [s.mean, s.variance])]);
  }

  /** One eval-mode forward pass of the fixed batch (BatchNorm with running statistics). */
  infer(): void {
    tf.tidy(() =>
      this.#forward(
        this.#images,
        (bn, x) => tf.batchNorm4d(x, bn.runningMean, bn.runningVar, bn.beta, bn.gamma, BATCH_NORM_EPSILON),
      )
    ).dispose();
  }

  /** Submits TensorFlow.js's queued commands and waits until the GPU has finished them (no readback). */
  async idle(): Promise<void> {
    const backend = tf.backend() as WebGPUBackend;
    // The backend submits by itself once enough dispatches are queued, and has no encoder right after. It
    // keeps one compute pass open across dispatches: a command buffer finished with it open is invalid and
    // dropped whole (Chromium and Deno both say so), so the pass is ended first.
    if (backend["commandEncoder"]) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await backend.queue.onSubmittedWorkDone();
  }

  /** Frees every tensor and variable of the peer. */
  dispose(): void {
    tf.dispose([this.#images, this.#oneHotLabels]);
    this.#optimizer.dispose();
    tf.disposeVariables();
  }

  #forward(x: tf.Tensor4D, norm: (bn: BatchNorm, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D {
    const stem = this.#options.stem === "cifar" ? 1 : 2;
    x = tf.relu(norm(this.#stem.bn, tf.conv2d(x, this.#stem.conv as tf.Tensor4D, stem, stem === 1 ? 1 : 3)));
    if (this.#options.stem === "imagenet") x = tf.maxPool(x, 3, 2, 1);
    for (const b of this.#blocks) {
      let out = tf.relu(norm(b.bn1, tf.conv2d(x, b.conv1 as tf.Tensor4D, b.stride, 1)));
      out = norm(b.bn2, tf.conv2d(out, b.conv2 as tf.Tensor4D, 1, 1));
      const identity = b.downsample
        ? norm(b.downsample.bn, tf.conv2d(x, b.downsample.conv as tf.Tensor4D, b.stride, 0))
        : x;
      x = tf.relu(tf.add(out, identity));
    }
    const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, this.#fc.weight as tf.Tensor2D), this.#fc.bias);
  }
}

/** torchvision's kaiming_normal_(mode="fan_out", nonlinearity="relu"), in TensorFlow.js's HWIO layout. */
function convWeight(kernel: number, inChannels: number, outChannels: number): tf.Variable {
  const std = Math.sqrt(2 / (outChannels * kernel * kernel));
  return tf.variable(tf.randomNormal([kernel, kernel, inChannels, outChannels], 0, std));
}

/** PyTorch's running-statistics update: (1 - momentum) * running + momentum * batch. */
function blend(running: tf.Tensor1D, batch: tf.Tensor1D): tf.Tensor1D {
  return tf.add(tf.mul(running, 1 - BATCH_NORM_MOMENTUM), tf.mul(batch, BATCH_NORM_MOMENTUM));
}

function batchNorm(channels: number): BatchNorm {
  return {
    gamma: tf.variable(tf.ones([channels]) as tf.Tensor1D),
    beta: tf.variable(tf.zeros([channels]) as tf.Tensor1D),
    runningMean: tf.variable(tf.zeros([channels]) as tf.Tensor1D, false),
    runningVar: tf.variable(tf.ones([channels]) as tf.Tensor1D, false),
  };
}
