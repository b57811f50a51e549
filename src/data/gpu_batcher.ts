/**
 * The GPU input pipeline: the data set is uploaded once as bytes, and per step only the batch's sample
 * indices and augmentation seeds (or, for a resizing plan, its windows' resampling table) cross to the
 * GPU, where kernels gather, augment and normalise the batch. A data set too large to keep on the GPU is
 * streamed instead: each step writes its samples' bytes, read from memory or from the stored file.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, type Tensor, tensor } from "../gpu/kernel.ts";
import {
  augmentBatchForward,
  type AugmentSample,
  augmentSelection,
  augmentSelectionBytes,
  type ImageChunk,
} from "./augment_op.ts";
import {
  resizedCropCoefficients,
  resizedCropForward,
  resizedCropRowsBytes,
  type ResizedCropSample,
  resizedCropTaps,
} from "./resized_crop_op.ts";
import { cropOffsets, cutoutRect, resizeWindow, type SourceSize } from "./_sample_window.ts";
import { type BatchOptions, type BatchPlan, planBatches, planOrder, selectBatch } from "./batch_plan.ts";
import { PADDING_LABEL } from "../ops/cross_entropy.ts";
import { imageBytes, type ImageDataset, imageSize, imageSlotBytes } from "./dataset.ts";

/** Where and how {@linkcode GpuBatcher.create} stores the data set on the GPU. */
export interface GpuDataOptions {
  /** Prefix of buffer and dispatch labels, `"data"` by default. */
  label?: string;
  /**
   * Largest chunk of image bytes per buffer; the adapter's storage-binding and buffer limits by default.
   * The data set is split into as few equal chunks of whole images as fit.
   */
  maxChunkBytes?: number;
  /**
   * The largest data set kept on the GPU, in bytes; a larger one is streamed, a batch's images written
   * at each step. WebGPU does not tell how much memory an adapter has, hence a fixed default.
   *
   * @default {2 ** 31}
   */
  maxResidentBytes?: number;
}

/** A sample of the selected batch: its data-set index (or streamed slot), seed and size. */
interface SelectedSample {
  index: number;
  seed: number;
  size: SourceSize;
}

/** {@linkcode GpuDataOptions.maxResidentBytes}' default: 2 GiB. */
const DEFAULT_RESIDENT_BYTES = 2 ** 31;

// Addresses inside a chunk are u32 in the shader.
const MAX_ADDRESSABLE_BYTES = 2 ** 31;

/**
 * Shuffled, augmented, normalised batches made on the GPU, equal bit for bit to {@linkcode cpuBatch}.
 *
 * @example
 * ```ts ignore
 * const batcher = GpuBatcher.create(gpu, train, { batchSize: 128, shuffle: true, augment: true, seed: 0, dropLast: true });
 * for (let batch = 0; batch < batcher.batchesPerEpoch; batch++) {
 *   batcher.select(epoch, batch);
 *   submit(gpu, [...batcher.dispatches, ...trainingStep]); // reads batcher.images and batcher.labels
 * }
 * ```
 */
export class GpuBatcher {
  /** Batches per epoch (the short last batch counted unless `dropLast`). */
  readonly batchesPerEpoch: number;
  /** `[batchSize, C, H, W]` f32, written by {@linkcode dispatches}. */
  readonly images: Tensor;
  /** `[batchSize]` u32 labels, written by {@linkcode select}; padding slots hold 0xFFFFFFFF. */
  readonly labels: Tensor;
  /** Encode these at the start of each step's command buffer, after {@linkcode select}. */
  readonly dispatches: Dispatch[];
  /** Samples of the data set. */
  readonly dataset: ImageDataset;
  /** Whether each step writes its images to the GPU (a data set over `maxResidentBytes`). */
  readonly streamed: boolean;
  readonly #gpu: Gpu;
  readonly #plan: BatchPlan;
  readonly #selection: GPUBuffer;
  readonly #chunks: ImageChunk[];
  readonly #taps: number = 0;
  readonly #buffers: GPUBuffer[];
  #order: { epoch: number; order: Uint32Array } | undefined;

  private constructor(
    gpu: Gpu,
    dataset: ImageDataset,
    plan: BatchPlan,
    buffers: {
      chunks: ImageChunk[];
      table: GPUBuffer;
      selection: GPUBuffer;
      images: GPUBuffer;
      labels: GPUBuffer;
      rows?: GPUBuffer;
    },
    label: string,
    streamed: boolean,
  ) {
    this.#gpu = gpu;
    this.streamed = streamed;
    this.dataset = dataset;
    this.#plan = plan;
    this.#chunks = buffers.chunks;
    this.#selection = buffers.selection;
    this.#buffers = [
      ...buffers.chunks.map((chunk) => chunk.buffer),
      buffers.table,
      buffers.selection,
      buffers.images,
      buffers.labels,
      ...buffers.rows ? [buffers.rows] : [],
    ];
    this.batchesPerEpoch = plan.batchesPerEpoch;
    this.images = tensor(buffers.images, [plan.batchSize, plan.channels, plan.height, plan.width]);
    this.labels = tensor(buffers.labels, [plan.batchSize]);
    if (plan.kind === "crop") {
      this.dispatches = augmentBatchForward(gpu, { ...plan, slotBytes: imageSlotBytes(dataset) }, {
        chunks: buffers.chunks,
        table: buffers.table,
        selection: buffers.selection,
        images: this.images,
      }, `${label}: gather, augment and normalise`);
    } else {
      this.#taps = resizedCropTaps({ height: plan.sourceHeight, width: plan.sourceWidth, size: plan.width });
      this.dispatches = resizedCropForward(gpu, { ...this.#resizeGeometry(), taps: this.#taps }, {
        chunks: buffers.chunks.map((chunk) => chunk.buffer),
        coefficients: buffers.selection,
        rows: buffers.rows!,
        table: buffers.table,
        images: this.images,
      }, `${label}: resize, augment and normalise`);
    }
  }

  /** Uploads the data set's bytes once (in chunks that fit a storage binding) and builds the dispatches. */
  static create(
    gpu: Gpu,
    dataset: ImageDataset,
    options: BatchOptions,
    storage: GpuDataOptions = {},
  ): GpuBatcher {
    const plan = planBatches(dataset, options);
    const label = storage.label ?? "data";
    const sourceBytes = imageSlotBytes(dataset);
    const limit = Math.min(
      gpu.limits.maxStorageBufferBindingSize,
      gpu.limits.maxBufferSize,
      storage.maxChunkBytes ?? Infinity,
      MAX_ADDRESSABLE_BYTES,
    );
    const perChunkLimit = Math.floor(Math.floor(limit / 4) * 4 / sourceBytes);
    if (perChunkLimit < 1) {
      throw new RangeError(
        `${label}: an image of ${sourceBytes} bytes does not fit a chunk of ${limit} bytes`,
      );
    }
    const geometry = {
      batch: plan.batchSize,
      height: plan.sourceHeight,
      width: plan.sourceWidth,
      size: plan.width,
      slotBytes: sourceBytes,
    };
    const outputBytes = plan.batchSize * plan.channels * plan.height * plan.width * 4;
    const rowsBytes = plan.kind === "resize" ? resizedCropRowsBytes(geometry) : 0;
    for (const [what, bytes] of [["images", outputBytes], ["rows resized for", rowsBytes]] as const) {
      if (bytes > gpu.limits.maxStorageBufferBindingSize) {
        throw new RangeError(
          `${label}: the ${what} a batch of ${plan.batchSize} take ${bytes} bytes, more than this adapter's ` +
            `storage binding limit of ${gpu.limits.maxStorageBufferBindingSize}; use a smaller batch`,
        );
      }
    }
    const streamed = dataset.count * sourceBytes > (storage.maxResidentBytes ?? DEFAULT_RESIDENT_BYTES);
    const chunks: ImageChunk[] = [];
    if (streamed) {
      if (plan.batchSize > perChunkLimit) {
        throw new RangeError(
          `${label}: a streamed batch of ${plan.batchSize} images of ${sourceBytes} bytes does not fit a ` +
            `storage binding of ${limit} bytes; use a batch of at most ${perChunkLimit}`,
        );
      }
      const bytes = Math.ceil(plan.batchSize * sourceBytes / 4) * 4;
      chunks.push({
        buffer: gpu.buffer(`${label} streamed batch images`, bytes),
        first: 0,
        count: plan.batchSize,
      });
    } else {
      // Chunk by chunk, so that a stored data set is never all in memory.
      const chunkCount = Math.ceil(dataset.count / perChunkLimit);
      const perChunk = Math.ceil(dataset.count / chunkCount);
      for (let first = 0; first < dataset.count; first += perChunk) {
        const count = Math.min(perChunk, dataset.count - first);
        chunks.push({
          buffer: gpu.upload(
            `${label} images ${first}..${first + count - 1}`,
            imageBytes(dataset, first, count),
          ),
          first,
          count,
        });
      }
    }
    const selectionBytes = plan.kind === "crop"
      ? augmentSelectionBytes(plan.batchSize)
      : resizedCropCoefficients({ ...geometry, taps: resizedCropTaps(geometry) }, new Array(plan.batchSize))
        .words.byteLength;
    return new GpuBatcher(
      gpu,
      dataset,
      plan,
      {
        chunks,
        table: gpu.upload(`${label} normalisation table`, plan.table),
        selection: gpu.buffer(`${label} selection`, selectionBytes),
        images: gpu.buffer(`${label} batch images`, outputBytes),
        labels: gpu.buffer(`${label} batch labels`, plan.batchSize * 4),
        rows: plan.kind === "resize" ? gpu.buffer(`${label} resized rows`, rowsBytes) : undefined,
      },
      label,
      streamed,
    );
  }

  /**
   * Writes the sample indices and augmentation seeds of (epoch, batch), and the batch's labels, with
   * `queue.writeBuffer`; returns how many real samples the batch holds. The same (seed, epoch, batch)
   * always gives the same batch. The writes take effect at the next `queue.submit`, so select once per
   * submitted step: two steps in one command buffer would both see the last selection.
   */
  select(epoch: number, batch: number): number {
    if (this.#order?.epoch !== epoch) {
      this.#order = { epoch, order: planOrder(this.#plan, this.dataset.count, epoch) };
    }
    const { count, indices, seeds } = selectBatch(this.#plan, this.#order.order, epoch, batch);
    const labels = new Uint32Array(this.#plan.batchSize).fill(PADDING_LABEL);
    for (let slot = 0; slot < count; slot++) labels[slot] = this.dataset.labels[indices[slot]];
    // Sizes are looked up before a streamed batch renumbers its samples by slot.
    const samples = Array.from(indices.subarray(0, count), (index, slot) => ({
      index,
      seed: seeds[slot],
      size: imageSize(this.dataset, index),
    }));
    if (this.streamed) this.#writeImages(samples);
    this.#gpu.write(
      this.#selection,
      this.#plan.kind === "crop" ? this.#cropTable(samples) : this.#resizeTable(samples),
    );
    this.#gpu.write(this.labels.buffer, labels);
    return count;
  }

  /**
   * A streamed batch: writes its samples' bytes slot after slot, and renumbers the samples by slot,
   * which is where the kernels find them now.
   */
  #writeImages(samples: SelectedSample[]): void {
    const size = imageSlotBytes(this.dataset);
    const bytes = new Uint8Array(Math.ceil(this.#plan.batchSize * size / 4) * 4);
    samples.forEach((sample, slot) => {
      bytes.set(imageBytes(this.dataset, sample.index, 1), slot * size);
      sample.index = slot;
    });
    this.#gpu.write(this.#chunks[0].buffer, bytes);
  }

  #resizeGeometry() {
    const plan = this.#plan;
    return {
      batch: plan.batchSize,
      height: plan.sourceHeight,
      width: plan.sourceWidth,
      size: plan.width,
      slotBytes: imageSlotBytes(this.dataset),
    };
  }

  /** The selection table of a cropping plan's batch: each slot's image, window, flip and Cutout. */
  #cropTable(samples: readonly SelectedSample[]): Int32Array {
    const plan = this.#plan;
    return augmentSelection(
      samples.map(({ index, seed, size }): AugmentSample => ({
        index,
        size,
        offsets: cropOffsets(plan, seed, size),
        cutout: cutoutRect(plan, seed),
      })),
      plan.batchSize,
    );
  }

  /** The resampling table of a resizing plan's batch: each slot's chunk, window and Cutout. */
  #resizeTable(selected: readonly SelectedSample[]): Int32Array {
    const plan = this.#plan;
    const samples: (ResizedCropSample | undefined)[] = new Array(plan.batchSize);
    selected.forEach(({ index, seed, size }, slot) => {
      const chunk = this.#chunks.findIndex((c) => index >= c.first && index < c.first + c.count);
      const cut = cutoutRect(plan, seed);
      samples[slot] = {
        window: resizeWindow(plan, seed, size),
        chunk,
        image: index - this.#chunks[chunk].first,
        size,
        cutout: cut && {
          top: Math.max(0, cut.top),
          bottom: Math.min(plan.height, cut.bottom),
          left: Math.max(0, cut.left),
          right: Math.min(plan.width, cut.right),
        },
      };
    });
    return resizedCropCoefficients({ ...this.#resizeGeometry(), taps: this.#taps }, samples).words;
  }

  /** Releases every buffer of the pipeline, the uploaded data set included. */
  destroy(): void {
    for (const buffer of this.#buffers) this.#gpu.release(buffer);
    this.#buffers.length = 0;
  }
}
