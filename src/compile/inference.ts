/**
 * The compiled forward pass in eval mode: logits for batches of images, with BatchNorm's running statistics.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, submit, type Tensor } from "../gpu/kernel.ts";
import type { Graph } from "../nn/graph.ts";
import type { Module } from "../nn/module.ts";
import { type ConvTuning, defaultConvTuning } from "../ops/conv2d.ts";
import { rewrite } from "./fuse.ts";
import { GpuModel } from "./gpu_model.ts";
import { lowerForward } from "./lower.ts";
import { StepPlanner } from "./memory.ts";

/** Options of {@linkcode Inference.compile}. */
export interface InferenceOptions {
  /** Images per dispatch of the network; any number of images can be run, in chunks of this size. */
  batchSize: number;
  /** Per-sample input shape `[channels, height, width]`, e.g. `[3, 224, 224]`. Default `[3, 32, 32]`. */
  inputShape?: readonly number[];
  /** Read images from this tensor (e.g. a data pipeline's batch) instead of an input buffer of its own. */
  input?: Tensor;
  /**
   * How the convolution and linear kernels are tiled and which algorithm they take, e.g. the autotune's
   * `tuneConvolutionsCached(gpu, cacheDir)`.
   *
   * @default {defaultConvTuning(gpu)}
   */
  tuning?: ConvTuning;
}

/**
 * A model compiled for inference on the GPU.
 *
 * @example
 * ```ts
 * import { Gpu, Inference, resnet18 } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const model = resnet18({ numClasses: 10, stem: "cifar" });
 * const inference = await Inference.compile(gpu, model, { batchSize: 2, inputShape: [3, 32, 32] });
 * const logits = await inference.run(new Float32Array(2 * 3 * 32 * 32)); // [2, 10], row-major
 * ```
 */
export class Inference {
  /** The parameters it reads (shared with a training step when compiled from one). */
  readonly model: GpuModel;
  /** The traced graph. */
  readonly graph: Graph;
  /** The input batch, `[batchSize, ...inputShape]`. */
  readonly images: Tensor;
  /** The output batch, `[batchSize, classes]`. */
  readonly logits: Tensor;
  /** The forward pass, in order. */
  readonly dispatches: Dispatch[];
  /** Bytes of activation storage this plan made. */
  readonly activationBytes: number;

  private constructor(
    model: GpuModel,
    graph: Graph,
    images: Tensor,
    logits: Tensor,
    dispatches: Dispatch[],
    bytes: number,
  ) {
    this.model = model;
    this.graph = graph;
    this.images = images;
    this.logits = logits;
    this.dispatches = dispatches;
    this.activationBytes = bytes;
  }

  /** Compiles `model` (a host model, uploaded here, or parameters already on the GPU). */
  static async compile(gpu: Gpu, model: Module | GpuModel, options: InferenceOptions): Promise<Inference> {
    const gpuModel = model instanceof GpuModel ? model : GpuModel.create(gpu, model);
    const inputShape = options.inputShape ?? [3, 32, 32];
    const graph = gpuModel.model.trace(inputShape);
    checkBatchSize(options.batchSize);
    checkBatchFits(gpu, graph, options.batchSize);
    const planner = new StepPlanner(gpu);
    const images = options.input ??
      {
        buffer: gpu.buffer("input images", options.batchSize * size(inputShape) * 4),
        offset: 0,
        shape: [options.batchSize, ...inputShape],
      };
    const input = planner.external(images, "input images");
    const tuning = options.tuning ?? defaultConvTuning(gpu);
    const output =
      lowerForward(planner, gpuModel, rewrite(graph, "eval"), options.batchSize, input, "eval", tuning)
        .output;
    planner.keep([output]);
    const built = await planner.build();
    return new Inference(gpuModel, graph, images, built.resolve(output), built.dispatches, built.bytes);
  }

  /** Number of logits per image. */
  get classes(): number {
    return this.logits.shape[1];
  }

  /**
   * Logits for `images` (NCHW floats, any number of images): run in chunks of the batch size, the last one
   * padded. Returns `[images, classes]` row-major.
   */
  async run(images: Float32Array): Promise<Float32Array> {
    const [batch, ...sample] = this.images.shape;
    const perImage = size(sample);
    if (images.length === 0 || images.length % perImage !== 0) {
      throw new Error(
        `Inference.run: expected a multiple of ${perImage} floats (images of [${
          sample.join(", ")
        }]), got ${images.length}`,
      );
    }
    const count = images.length / perImage;
    const out = new Float32Array(count * this.classes);
    const gpu = this.model.gpu;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const chunk = new Float32Array(batch * perImage);
      chunk.set(images.subarray(start * perImage, (start + n) * perImage));
      gpu.write(this.images.buffer, chunk, this.images.offset);
      submit(gpu, this.dispatches);
      const logits = await gpu.readFloats(this.logits.buffer, this.logits.offset / 4, n * this.classes);
      out.set(logits, start * this.classes);
    }
    return out;
  }
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws unless `batchSize` is a positive integer. */
export function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

function largestOutput(graph: Graph): Graph["nodes"][number] {
  return graph.nodes.reduce((a, b) => size(b.shape) > size(a.shape) ? b : a);
}

/**
 * The largest batch whose every activation of `graph` fits one storage binding of `gpu`.
 *
 * @example
 * ```ts ignore
 * const batch = Math.min(256, largestBatch(gpu, model.trace([3, 224, 224])));
 * ```
 */
export function largestBatch(gpu: Gpu, graph: Graph): number {
  return Math.floor(gpu.limits.maxStorageBufferBindingSize / (size(largestOutput(graph).shape) * 4));
}

/**
 * Throws unless every activation of `graph` at `batchSize` fits one storage binding of `gpu`, naming the
 * largest layer output and the largest batch that fits (activations grow with the batch; the convolutions'
 * own scratch is split along it and needs no such bound).
 */
export function checkBatchFits(gpu: Gpu, graph: Graph, batchSize: number): void {
  const limit = gpu.limits.maxStorageBufferBindingSize;
  const largest = largestOutput(graph);
  const bytesPerSample = size(largest.shape) * 4;
  if (batchSize <= largestBatch(gpu, graph)) return;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  throw new RangeError(
    `batch size ${batchSize} does not fit this adapter: ${largest.name}'s output ` +
      `[${batchSize}, ${largest.shape.join(", ")}] would take ${
        mib(batchSize * bytesPerSample)
      }, more than its ` +
      `largest storage binding (${mib(limit)}); the largest batch that fits is ${
        Math.floor(limit / bytesPerSample)
      }`,
  );
}
