/**
 * The gather-augment-normalise op: dispatches of `shaders/augment.wgsl` that turn a selection of samples
 * from a byte-packed data set into a float batch.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import type { CropOffsets, CutoutRect, SourceSize } from "./_sample_window.ts";
import source from "../../shaders/augment.wgsl" with { type: "text" };

const WORKGROUP_SIZE = 64;

/** Words per slot of {@linkcode augmentSelection}'s table (`RECORD` in the shader). */
const RECORD = 10;

/** Sizes and settings of the op. */
export interface AugmentGeometry {
  /** Slots per batch. */
  batchSize: number;
  /** Channels of each image. */
  channels: number;
  /** Rows of each batch image. */
  height: number;
  /** Columns of each batch image. */
  width: number;
  /** Bytes from one data-set image's start to the next's. */
  slotBytes: number;
  /** Mirror the border instead of padding with byte 0. */
  reflect: boolean;
}

/** A run of whole images of the data set held in one buffer, bytes packed four to a word. */
export interface ImageChunk {
  /** The bytes, `count` slots of them (padded to a multiple of 4). */
  buffer: GPUBuffer;
  /** Data-set index of the chunk's first image. */
  first: number;
  /** Images in the chunk. */
  count: number;
}

/** Where one slot's image comes from and what is done to it. */
export interface AugmentSample {
  /** Data-set index of the image (its slot in a streamed batch). */
  index: number;
  /** Its columns and rows. */
  size: SourceSize;
  /** The crop window's offsets and the flip. */
  offsets: CropOffsets;
  /** The Cutout square, unclipped. */
  cutout?: CutoutRect;
}

/**
 * The `selection` table of a batch of `batchSize` slots: the count of samples, then each sample in slot
 * order; the slots past them are padding, zeroed.
 *
 * @example
 * ```ts ignore
 * const sample = { index: 3, size: { width: 32, height: 32 }, offsets: { top: -2, left: 1, flipped: true } };
 * gpu.write(selection, augmentSelection([sample], 4));
 * ```
 */
export function augmentSelection(samples: readonly AugmentSample[], batchSize: number): Int32Array {
  const words = new Int32Array(1 + batchSize * RECORD);
  words[0] = samples.length;
  samples.forEach((sample, slot) => {
    const { offsets, size, cutout } = sample;
    words.set([
      sample.index,
      offsets.top,
      offsets.left,
      offsets.flipped ? 1 : 0,
      size.width,
      size.height,
      ...cutout ? [cutout.top, cutout.bottom, cutout.left, cutout.right] : [0, 0, 0, 0],
    ], 1 + slot * RECORD);
  });
  return words;
}

/** Bytes of the `selection` buffer of a batch of `batchSize`. */
export function augmentSelectionBytes(batchSize: number): number {
  return (1 + batchSize * RECORD) * 4;
}

/** Buffers the op reads and writes. */
export interface AugmentTensors {
  /** The data set, in chunks that each fit one storage binding. */
  chunks: readonly ImageChunk[];
  /** `[C * 256]` f32 normalisation table (see `normalisationTable`). */
  table: GPUBuffer;
  /** The table of {@linkcode augmentSelection}. */
  selection: GPUBuffer;
  /** `[batchSize, C, H, W]` f32 output. */
  images: Tensor;
}

/**
 * One dispatch per chunk; each writes the slots whose sample lies in its chunk, and the first also zeroes
 * the padding slots of a short batch.
 *
 * @example
 * ```ts ignore
 * const dispatches = augmentBatchForward(gpu, geometry, { chunks, table, selection, images }, "data: augment");
 * submit(gpu, dispatches);
 * ```
 */
export function augmentBatchForward(
  gpu: Gpu,
  geometry: AugmentGeometry,
  tensors: AugmentTensors,
  label: string,
): Dispatch[] {
  const { batchSize, channels, height, width, slotBytes, reflect } = geometry;
  const rows = batchSize * channels * height;
  return tensors.chunks.map((chunk, i) =>
    kernel(gpu, {
      label: tensors.chunks.length === 1 ? label : `${label} (chunk ${i + 1} of ${tensors.chunks.length})`,
      code: source,
      constants: { WG: WORKGROUP_SIZE },
      uniforms: {
        first: chunk.first,
        chunkCount: chunk.count,
        batch: batchSize,
        channels,
        height,
        width,
        slotBytes,
        reflectPad: reflect ? 1 : 0,
        writePadding: i === 0 ? 1 : 0,
      },
      bindings: {
        chunkBytes: chunk.buffer,
        table: tensors.table,
        selection: tensors.selection,
        images: tensors.images,
      },
      workgroups: grid(rows, WORKGROUP_SIZE),
    })
  );
}
