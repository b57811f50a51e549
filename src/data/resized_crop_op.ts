/**
 * The resized-crop op: dispatches of `shaders/resized_crop.wgsl` that turn byte images of one working
 * resolution into torchvision's `RandomResizedCrop` + `RandomHorizontalFlip` + `ToTensor` + `Normalize`
 * of each (or `Resize` of the whole image), equal bit for bit to `resizedCrop` of `transforms.ts` on the
 * CPU.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, type Tensor } from "../gpu/kernel.ts";
import { type AxisCoefficients, axisCoefficients } from "./_resample.ts";
import type { ResizedCropParams } from "./resized_crop_params.ts";
import type { SourceSize } from "./_sample_window.ts";
import source from "../../shaders/resized_crop.wgsl" with { type: "text" };

const WORKGROUP_SIZE = 64;

/**
 * Sizes of the op: `batch` source images of `height` x `width` (or each of its own size, at most that),
 * each resized to `size` x `size`.
 */
export interface ResizedCropGeometry {
  /** Samples. */
  batch: number;
  /** Rows of every source image, or the most of any. */
  height: number;
  /** Columns of every source image, or the most of any. */
  width: number;
  /** Side of the square output. */
  size: number;
  /** Bytes from one source image's start to the next's. @default {3 * height * width} */
  slotBytes?: number;
}

/** The per-sample table the kernel reads: windows, flips, sources, Cutout and PIL's fixed-point weights. */
export interface ResizedCropCoefficients {
  /** Weight slots of each output pixel's entry. */
  taps: number;
  /** The table, to upload as the `coefficients` binding. */
  words: Int32Array;
}

/** Where one slot's output comes from. */
export interface ResizedCropSample {
  /** The window of the source image, and whether its resized crop is mirrored. */
  window: ResizedCropParams;
  /** Which of the op's chunks holds the source image. */
  chunk: number;
  /** The source image's position in its chunk. */
  image: number;
  /** The source image's columns and rows, when it is not the geometry's `width` x `height`. */
  size?: SourceSize;
  /** Output rows `[top, bottom)` and columns `[left, right)` zeroed after normalisation (Cutout). */
  cutout?: { top: number; bottom: number; left: number; right: number };
}

/** Words per sample before its column and row entries (see `shaders/resized_crop.wgsl`). */
const HEADER = 10;

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
 * The most weight slots any window of an image of `height` x `width` resized to `size` needs: a fixed
 * table stride for every batch of a pipeline.
 *
 * @example
 * ```ts ignore
 * console.log(resizedCropTaps({ height: 256, width: 256, size: 224 })); // 5
 * ```
 */
export function resizedCropTaps(geometry: Omit<ResizedCropGeometry, "batch">): number {
  return axisCoefficients(Math.max(geometry.height, geometry.width), geometry.size).taps;
}

/**
 * The `coefficients` table of a batch: per sample its source, the source rows its window needs and its
 * Cutout rectangle, then for each output column and row the first source pixel, the count and the
 * weights PIL would use for that window, computed in float64 on the host, so that the GPU only sums
 * integers. A flip reverses the column entries; an `undefined` sample is a padding slot (zeroed).
 *
 * @example
 * ```ts ignore
 * const table = resizedCropCoefficients({ batch: 1, height: 32, width: 48, size: 16 }, [
 *   { window: { top: 4, left: 8, height: 20, width: 30, flip: true }, chunk: 0, image: 0 },
 * ]);
 * const coefficients = gpu.upload("coefficients", table.words);
 * ```
 *
 * @throws {RangeError} When there is not one sample per slot, a window leaves its image, or `taps` is
 * fewer than a window needs.
 */
export function resizedCropCoefficients(
  geometry: ResizedCropGeometry & { taps?: number },
  samples: readonly (ResizedCropSample | undefined)[],
): ResizedCropCoefficients {
  const { batch, size } = geometry;
  const slotBytes = geometry.slotBytes ?? 3 * geometry.height * geometry.width;
  if (samples.length !== batch) throw new RangeError(`${samples.length} samples for a batch of ${batch}`);
  const axes = Array.from(samples, (sample, n) => {
    if (!sample) return undefined;
    const { top, left, height: h, width: w } = sample.window;
    const { height, width } = sample.size ?? geometry;
    const inside = [top, left, h, w].every(Number.isInteger) && top >= 0 && left >= 0 && h > 0 && w > 0 &&
      top + h <= height && left + w <= width;
    if (!inside) {
      throw new RangeError(
        `sample ${n}: window ${w}x${h} at (${left}, ${top}) leaves the ${width}x${height} image`,
      );
    }
    return { columns: axisCoefficients(w, size), rows: axisCoefficients(h, size) };
  });
  const needed = Math.max(
    1,
    ...axes.flatMap((axis) => axis ? [...axis.columns.count, ...axis.rows.count] : []),
  );
  const taps = geometry.taps ?? needed;
  if (taps < needed) throw new RangeError(`a table of ${taps} taps is too narrow: a window needs ${needed}`);
  const perSample = HEADER + 2 * size * (2 + taps);
  const words = new Int32Array(batch * perSample);
  Array.from(samples, (sample, n) => {
    const at = n * perSample;
    const axis = axes[n];
    if (!sample || !axis) {
      words[at + 2] = -1;
      return;
    }
    const { window } = sample;
    const { columns, rows } = axis;
    // PIL's ybox: the horizontal pass only needs the rows the vertical pass reads.
    words[at] = window.top + rows.start[0];
    words[at + 1] = window.top + rows.start[size - 1] + rows.count[size - 1];
    const source = sample.size ?? geometry;
    words[at + 2] = sample.chunk;
    words[at + 3] = sample.image * slotBytes;
    const cut = sample.cutout;
    if (cut) words.set([cut.top, cut.bottom, cut.left, cut.right], at + 4);
    words.set([source.width, source.height], at + 8);
    writeAxis(words, at + HEADER, columns, { offset: window.left, taps, mirror: window.flip });
    writeAxis(words, at + HEADER + size * (2 + taps), rows, { offset: window.top, taps, mirror: false });
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
  /** Chunks of `[images, 3, height, width]` bytes packed four to a word, image after image. */
  chunks: readonly GPUBuffer[];
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
 * The dispatches that write `tensors.images`: the horizontal pass once per chunk, then the vertical.
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
  const { chunks, coefficients, rows, table, images } = tensors;
  return [
    ...chunks.map((imageBytes, chunk) =>
      kernel(gpu, {
        label: chunks.length === 1
          ? `${label} (columns)`
          : `${label} (columns, chunk ${chunk + 1} of ${chunks.length})`,
        code: source,
        entryPoint: "horizontal",
        constants,
        uniforms: { ...uniforms, chunk },
        bindings: { imageBytes, coefficients, rows },
        workgroups: grid(batch * 3 * height, WORKGROUP_SIZE),
      })
    ),
    kernel(gpu, {
      label: `${label} (rows)`,
      code: source,
      entryPoint: "vertical",
      constants,
      uniforms: { ...uniforms, chunk: 0 },
      bindings: { coefficients, rows, table, images },
      workgroups: grid(batch * 3 * size, WORKGROUP_SIZE),
    }),
  ];
}
