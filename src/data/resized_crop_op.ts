/**
 * The resized-crop op: dispatches of `shaders/resized_crop.wgsl` that turn a batch of byte images of one
 * working resolution into torchvision's `RandomResizedCrop` + `RandomHorizontalFlip` + `ToTensor` +
 * `Normalize` of each, equal bit for bit to `resizedCrop` of `transforms.ts` on the CPU.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import { type AxisCoefficients, axisCoefficients } from "./_resample.ts";
import type { ResizedCropParams } from "./transforms.ts";
import source from "../../shaders/resized_crop.wgsl" with { type: "text" };

const WORKGROUP_SIZE = 64;

/** Sizes of the op: `batch` source images of `height` x `width`, each resized to `size` x `size`. */
export interface ResizedCropGeometry {
  /** Samples. */
  batch: number;
  /** Rows of every source image. */
  height: number;
  /** Columns of every source image. */
  width: number;
  /** Side of the square output. */
  size: number;
}

/** The per-sample table the kernel reads: windows, flips and PIL's fixed-point weights. */
export interface ResizedCropCoefficients {
  /** Weight slots of each output pixel's entry: the most source pixels any output pixel of the batch reads. */
  taps: number;
  /** The table, to upload as the `coefficients` binding. */
  words: Int32Array;
}

/** Writes one axis's entries (first pixel shifted by `offset`, count, `taps` weights), mirrored if asked. */
function writeAxis(
  words: Int32Array,
  at: number,
  axis: AxisCoefficients,
  options: { offset: number; taps: number; mirror: boolean },
): void {
  const size = axis.start.length;
  for (let o = 0; o < size; o++) {
    const from = options.mirror ? size - 1 - o : o;
    const entry = at + o * (2 + options.taps);
    words[entry] = options.offset + axis.start[from];
    words[entry + 1] = axis.count[from];
    words.set(axis.weights.subarray(from * axis.taps, from * axis.taps + axis.count[from]), entry + 2);
  }
}

/**
 * The `coefficients` table of a batch: per sample the source rows its window needs, then for each output
 * column and row the first source pixel, the count and the weights PIL would use for that window, computed
 * in float64 on the host, so that the GPU only sums integers. A flip reverses the column entries.
 *
 * @example
 * ```ts ignore
 * const table = resizedCropCoefficients({ batch: 1, height: 32, width: 48, size: 16 }, [
 *   { top: 4, left: 8, height: 20, width: 30, flip: true },
 * ]);
 * const coefficients = gpu.upload("coefficients", table.words);
 * ```
 *
 * @throws {RangeError} When there is not one window per sample, or a window leaves its image.
 */
export function resizedCropCoefficients(
  geometry: ResizedCropGeometry,
  params: readonly ResizedCropParams[],
): ResizedCropCoefficients {
  const { batch, height, width, size } = geometry;
  if (params.length !== batch) throw new RangeError(`${params.length} windows for a batch of ${batch}`);
  const axes = params.map((window, n) => {
    const { top, left } = window;
    const inside = [top, left, window.height, window.width].every(Number.isInteger) && top >= 0 &&
      left >= 0 && window.height > 0 && window.width > 0 && top + window.height <= height &&
      left + window.width <= width;
    if (!inside) {
      throw new RangeError(
        `sample ${n}: window ${window.width}x${window.height} at (${left}, ${top}) leaves the ${width}x${height} image`,
      );
    }
    return { columns: axisCoefficients(window.width, size), rows: axisCoefficients(window.height, size) };
  });
  const taps = Math.max(1, ...axes.flatMap(({ columns, rows }) => [...columns.count, ...rows.count]));
  const perSample = 2 + 2 * size * (2 + taps);
  const words = new Int32Array(batch * perSample);
  params.forEach((window, n) => {
    const { columns, rows } = axes[n];
    const at = n * perSample;
    // PIL's ybox: the horizontal pass only needs the rows the vertical pass reads.
    words[at] = window.top + rows.start[0];
    words[at + 1] = window.top + rows.start[size - 1] + rows.count[size - 1];
    writeAxis(words, at + 2, columns, { offset: window.left, taps, mirror: window.flip });
    writeAxis(words, at + 2 + size * (2 + taps), rows, { offset: window.top, taps, mirror: false });
  });
  return { taps, words };
}

/**
 * Bytes of the `rows` scratch buffer: the horizontal pass's output, `ceil(size / 4)` words a source row.
 *
 * @example
 * ```ts ignore
 * const rows = gpu.buffer("resized crop rows", resizedCropRowsBytes(geometry));
 * ```
 */
export function resizedCropRowsBytes(geometry: ResizedCropGeometry): number {
  return geometry.batch * 3 * geometry.height * Math.ceil(geometry.size / 4) * 4;
}

/** Buffers the op reads and writes. */
export interface ResizedCropTensors {
  /** `[batch, 3, height, width]` bytes packed four to a word, image after image. */
  imageBytes: GPUBuffer;
  /** The table of {@linkcode resizedCropCoefficients}. */
  coefficients: GPUBuffer;
  /** Scratch of {@linkcode resizedCropRowsBytes} bytes. */
  rows: GPUBuffer;
  /** `[3 * 256]` f32 normalisation table (see `normalisationTable`). */
  table: GPUBuffer;
  /** `[batch, 3, size, size]` f32 output. */
  images: Tensor;
}

/**
 * The two dispatches, horizontal then vertical, that write `tensors.images`.
 *
 * @example
 * ```ts ignore
 * const dispatches = resizedCropForward(gpu, { ...geometry, taps: table.taps }, tensors, "data: resized crop");
 * submit(gpu, dispatches);
 * ```
 */
export function resizedCropForward(
  gpu: Gpu,
  geometry: ResizedCropGeometry & { taps: number },
  tensors: ResizedCropTensors,
  label: string,
): Dispatch[] {
  const { batch, height, width, size, taps } = geometry;
  const uniforms = { batch, height, width, size, taps };
  const constants = { WG: WORKGROUP_SIZE };
  const { imageBytes, coefficients, rows, table, images } = tensors;
  return [
    kernel(gpu, {
      label: `${label} (columns)`,
      code: source,
      entryPoint: "horizontal",
      constants,
      uniforms,
      bindings: { imageBytes, coefficients, rows },
      workgroups: grid(batch * 3 * height, WORKGROUP_SIZE),
    }),
    kernel(gpu, {
      label: `${label} (rows)`,
      code: source,
      entryPoint: "vertical",
      constants,
      uniforms,
      bindings: { coefficients, rows, table, images },
      workgroups: grid(batch * 3 * size, WORKGROUP_SIZE),
    }),
  ];
}
