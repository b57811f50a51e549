/**
 * The gather-augment-normalise op: dispatches of `shaders/augment.wgsl` that turn a selection of samples
 * from a byte-packed data set into a float batch.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import { centreOffset } from "./_sample_window.ts";
import source from "../../shaders/augment.wgsl" with { type: "text" };

const WORKGROUP_SIZE = 64;

/** Sizes and augmentation settings of the op. */
export interface AugmentGeometry {
  /** Slots per batch. */
  batchSize: number;
  /** Channels of each image. */
  channels: number;
  /** Rows of each batch image. */
  height: number;
  /** Columns of each batch image. */
  width: number;
  /** Rows of each data-set image. */
  sourceHeight: number;
  /** Columns of each data-set image. */
  sourceWidth: number;
  /** A window anywhere in the padded image, or the centre one. */
  randomCrop: boolean;
  /** Crop padding. */
  padding: number;
  /** Mirror the border instead of padding with byte 0. */
  reflect: boolean;
  /** Random horizontal flips. */
  flip: boolean;
  /** Cutout side (0: none). */
  cutout: number;
}

/** A run of whole images of the data set held in one buffer, bytes packed four to a word. */
export interface ImageChunk {
  /** The bytes, `count * C * H * W` of them (padded to a multiple of 4). */
  buffer: GPUBuffer;
  /** Data-set index of the chunk's first image. */
  first: number;
  /** Images in the chunk. */
  count: number;
}

/** Buffers the op reads and writes. */
export interface AugmentTensors {
  /** The data set, in chunks that each fit one storage binding. */
  chunks: readonly ImageChunk[];
  /** `[C * 256]` f32 normalisation table (see `normalisationTable`). */
  table: GPUBuffer;
  /** `[1 + 2 * batchSize]` u32: the batch's sample count, then each slot's index, then each slot's seed. */
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
  const { batchSize, channels, height, width, sourceHeight, sourceWidth, padding, reflect, flip, cutout } =
    geometry;
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
        sourceHeight,
        sourceWidth,
        randomCrop: geometry.randomCrop ? 1 : 0,
        centreTop: centreOffset(sourceHeight, height),
        centreLeft: centreOffset(sourceWidth, width),
        padding,
        reflectPad: reflect ? 1 : 0,
        flip: flip ? 1 : 0,
        cutout,
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
