/**
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) for the 3x3 stride-1 padding-1 convolutions: forward, and
 * backward-data, which for stride 1 is the same convolution of grad_output with the kernel turned by 180
 * degrees and transposed. Three kinds of dispatch: the input transform `V = B^T d B` of every 4x4 (6x6)
 * patch (the first one also makes the filter transform `U = G g G^T`, which so takes no dispatch of its
 * own), 16 (36) GEMMs `M[xi] = U[xi] V[xi]` in the transformed domain (register tiled like the direct
 * kernels, with 2.25 (4) times fewer multiply-adds than the 9 taps and no bounds tests) and the output
 * transform `Y = A^T M A`. Backward-weight is their transpose: per chunk of tiles, one dispatch transforms
 * grad_output (`A dY A^T`) and the input (`B^T d B`) and one runs the GEMMs summing
 * `M[xi] = sum over tiles of (A dY A^T)[xi] (B^T d B)[xi]`, after which one dispatch makes the kernel
 * gradient `G^T M G`. The 4x4 tiles halve the 2x2 tiles' multiply-adds again, and their V and M are
 * smaller (36 values per 16 pixels instead of 16 per 4), at the cost of costlier transforms, more
 * rounding (its points reach +-2) and more padding on images of few pixels; the autotune's measurements
 * choose per convolution ({@linkcode winogradTile}).
 *
 * V and M hold 16 values per 2x2 output tile and channel (36 per 4x4 tile), four (2.25) times the
 * activations they stand for, so the tiles go through in chunks whose V and M fit a scratch budget. That
 * scratch is the op's own ({@linkcode winogradScratchParts}), which a compiled step declares to the memory
 * planner, so its memory is shared with other ops' scratch and activations. Whether a convolution takes
 * this path, and with which tiles, is decided by the autotune's measurements in the {@linkcode ConvTuning}
 * passed in ({@linkcode winogradTile}), never by the adapter's name.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { BINDING_ALIGNMENT } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, type Tensor, tensor } from "../gpu/kernel.ts";
import { batchChunks, chunkEpilogue, chunkPart } from "./_conv_chunks.ts";
import { type ConvEpilogue, epilogueKernel } from "./_conv_epilogue.ts";
import { GEMM_CORE, gemmProblem } from "./_conv_kernels.ts";
import {
  type ConvTuning,
  gemmEstimate,
  type GemmProblem,
  gemmTiling,
  isMeasured,
  pointGroups,
  tileSize,
  tilingConstants,
} from "./_conv_strategy.ts";
import type { Conv2dGeometry } from "./_conv_geometry.ts";
import { opScratch, type Scratch, scratchPart } from "./_scratch.ts";
import gemmSource from "../../shaders/conv2d_winograd_gemm.wgsl" with { type: "text" };
import filterSource from "../../shaders/conv2d_winograd_filter.wgsl" with { type: "text" };
import tilesSource from "../../shaders/conv2d_winograd_tiles.wgsl" with { type: "text" };
import inputSource from "../../shaders/conv2d_winograd_input.wgsl" with { type: "text" };
import input2Source from "../../shaders/conv2d_winograd_input_f2.wgsl" with { type: "text" };
import input4Source from "../../shaders/conv2d_winograd_input_f4.wgsl" with { type: "text" };
import outputSource from "../../shaders/conv2d_winograd_output.wgsl" with { type: "text" };
import output2Source from "../../shaders/conv2d_winograd_output_f2.wgsl" with { type: "text" };
import output4Source from "../../shaders/conv2d_winograd_output_f4.wgsl" with { type: "text" };
import epilogueSource from "../../shaders/conv2d_epilogue.wgsl" with { type: "text" };
import weightSource from "../../shaders/conv2d_winograd_weight.wgsl" with { type: "text" };
import weight2Source from "../../shaders/conv2d_winograd_weight_f2.wgsl" with { type: "text" };
import weight4Source from "../../shaders/conv2d_winograd_weight_f4.wgsl" with { type: "text" };

const GEMM = compose(GEMM_CORE, gemmSource);

/** The convolution passes Winograd can compute. */
export type WinogradPass = "forward" | "backwardData" | "backwardWeight";

/** Output pixels per side of a Winograd tile: F(2x2, 3x3) or F(4x4, 3x3). */
export type WinogradTile = 2 | 4;

/** The tile sizes, smallest first. */
export const WINOGRAD_TILES: readonly WinogradTile[] = [2, 4];

/** The shaders of each tile size's transforms. */
const TRANSFORMS: Record<WinogradTile, { input: string; output: string; weight: string }> = {
  2: {
    input: compose(tilesSource, filterSource, input2Source, inputSource),
    output: compose(tilesSource, output2Source, outputSource, epilogueSource),
    weight: compose(tilesSource, input2Source, weight2Source, weightSource),
  },
  4: {
    input: compose(tilesSource, filterSource, input4Source, inputSource),
    output: compose(tilesSource, output4Source, outputSource, epilogueSource),
    weight: compose(tilesSource, input4Source, weight4Source, weightSource),
  },
};

/** Values per tile and channel in the transformed domain: the points of the transforms, (tile + 2)^2. */
export function winogradPoints(tile: WinogradTile): number {
  return (tile + 2) ** 2;
}

/** Bytes of V (and, apart, of M) one chunk of tiles may take, unless the binding limit is smaller. */
export const WINOGRAD_SCRATCH_BYTES = 32 * 2 ** 20;

const TRANSFORM_WORKGROUP = 64;

/** A run of images (bound as one range) and how its tiles are cut into chunks. */
export interface WinogradRun {
  /** Index of the run's first image. */
  start: number;
  /** Images in the run. */
  batch: number;
  /** Its 2x2 output tiles. */
  tiles: number;
  /** Tiles per chunk: the columns of its GEMMs. */
  columns: number;
  /** Chunks of the run. */
  chunks: number;
}

/**
 * The sizes of a Winograd op: its tile, the channels it reads and writes, its runs, and its scratch bytes.
 * Backward-weight transforms both of its tensors, and its GEMMs' depth is the tiles of a chunk; `rows` are
 * then grad_output's channels and `depth` the input's (the GEMMs' columns).
 */
export interface WinogradLayout {
  /** Output pixels per side of a tile. */
  tile: WinogradTile;
  /** Channels of the tensor transformed (the GEMM's depth). */
  depth: number;
  /** Channels of the result (the GEMM's rows). */
  rows: number;
  /** Runs of images. */
  runs: WinogradRun[];
  /**
   * Offset of V in the transformed buffer: the bytes before it (U, or backward-weight's transformed
   * gradients) rounded up to the binding alignment.
   */
  vOffset: number;
  /** Bytes the transformed buffer needs. */
  transformedBytes: number;
  /** Bytes the products buffer needs. */
  productsBytes: number;
}

/** Options of {@linkcode winogradPlan}; tests and the autotune use them, layers take the defaults. */
export interface WinogradOptions {
  /** Largest storage binding (default: the adapter's). */
  maxBindingBytes?: number;
  /** Bytes V and M of one chunk may each take (default {@linkcode WINOGRAD_SCRATCH_BYTES}). */
  scratchBytes?: number;
  /** The tile size (default: as the tuning chooses, see {@linkcode winogradTile}; 2 if it chooses none). */
  tile?: WinogradTile;
  /**
   * The op's scratch, its parts as {@linkcode winogradScratchParts} says (U and V, then M); absent: private
   * buffers made here.
   */
  scratch?: Scratch;
}

/** A planned Winograd op. */
export interface WinogradPlan {
  /** Every dispatch, in order. */
  dispatches: Dispatch[];
  /** The transform dispatches alone (the autotune times them). */
  transforms: Dispatch[];
  /** The GEMM dispatches alone. */
  gemms: Dispatch[];
  /** Its sizes. */
  layout: WinogradLayout;
}

/** Bytes per tile column of V or M, per channel, with tiles of `tile` pixels a side. */
function columnBytes(tile: WinogradTile): number {
  return 4 * winogradPoints(tile);
}

/**
 * True for the convolutions Winograd with tiles of `tile` pixels a side computes: 3x3, stride 1, padding
 * 1, no dilation or groups, and a transformed filter U that fits one binding.
 */
export function winogradApplies(gpu: Gpu, g: Conv2dGeometry, tile: WinogradTile = 2): boolean {
  return g.kernelHeight === 3 && g.kernelWidth === 3 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.padHeight === 1 && g.padWidth === 1 && g.dilationHeight === 1 && g.dilationWidth === 1 &&
    g.groups === 1 &&
    columnBytes(tile) * g.inChannels * g.outChannels <= gpu.limits.maxStorageBufferBindingSize;
}

function alignUp(bytes: number): number {
  return Math.ceil(bytes / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
}

/** Cuts the op into runs of images that fit one binding and chunks of tiles that fit the scratch budget. */
export function winogradLayout(
  g: Conv2dGeometry,
  pass: WinogradPass,
  maxBindingBytes: number,
  scratchBytes: number,
  label: string,
  tile: WinogradTile = 2,
): WinogradLayout {
  const data = pass === "backwardData";
  const bytes = columnBytes(tile);
  const depth = data ? g.outChannels : g.inChannels;
  const rows = data ? g.inChannels : g.outChannels;
  const budget = Math.min(scratchBytes, maxBindingBytes);
  const weightPass = pass === "backwardWeight";
  // U shares V's buffer; past half the budget it no longer shrinks V's share, so chunks stay useful. The
  // transformed gradients of backward-weight share it column for column.
  const maxColumns = weightPass
    ? Math.floor((budget - BINDING_ALIGNMENT) / (bytes * (rows + depth)))
    : Math.min(
      Math.floor(Math.max(budget - alignUp(bytes * rows * depth), budget / 2) / (bytes * depth)),
      Math.floor(budget / (bytes * rows)),
    );
  if (maxColumns < 1) {
    throw new Error(
      `${label}: ${budget} bytes of Winograd scratch hold not even one tile of ${depth} channels`,
    );
  }
  const tilesPerImage = Math.ceil(g.inHeight / tile) * Math.ceil(g.inWidth / tile);
  const runs = batchChunks(g, maxBindingBytes, label).map(({ start, geometry }) => {
    const tiles = geometry.batch * tilesPerImage;
    const chunks = Math.ceil(tiles / maxColumns);
    return { start, batch: geometry.batch, tiles, columns: Math.ceil(tiles / chunks), chunks };
  });
  const columns = Math.max(...runs.map((r) => r.columns));
  const vOffset = alignUp(bytes * rows * (weightPass ? columns : depth));
  return {
    tile,
    depth,
    rows,
    runs,
    vOffset,
    transformedBytes: vOffset + bytes * depth * columns,
    productsBytes: bytes * rows * (weightPass ? depth : columns),
  };
}

/** Scratch parts a Winograd op of `layout` needs: U and V (read by the GEMMs), and M (written by them). */
export function winogradLayoutParts(layout: WinogradLayout): number[] {
  return [layout.transformedBytes, layout.productsBytes];
}

/** The layout of `pass` of `g` through Winograd under `tuning` and `options`. */
function layoutOf(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: WinogradPass,
  tuning: ConvTuning,
  options: WinogradOptions,
  label: string,
): WinogradLayout {
  return winogradLayout(
    g,
    pass,
    options.maxBindingBytes ?? gpu.limits.maxStorageBufferBindingSize,
    options.scratchBytes ?? WINOGRAD_SCRATCH_BYTES,
    label,
    options.tile ?? winogradTile(gpu, tuning, g, pass) ?? 2,
  );
}

/** Scratch parts `pass` of `g` needs through Winograd under `tuning` with `options`' binding limit and budget. */
export function winogradScratchParts(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: WinogradPass,
  tuning: ConvTuning,
  options: WinogradOptions = {},
): number[] {
  return winogradLayoutParts(layoutOf(gpu, g, pass, tuning, options, "winograd scratch"));
}

/** The tensors of a Winograd op: `result = epilogue(conv(source, weight))` in `pass`'s sense. */
interface WinogradTensors {
  source: Tensor;
  weight: Tensor;
  result: Tensor;
  epilogue?: ConvEpilogue;
}

/** Plans one Winograd op, its GEMMs tiled as `tuning` says; every buffer but the scratch is the caller's. */
export function winogradPlan(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: "forward" | "backwardData",
  t: WinogradTensors,
  label: string,
  tuning: ConvTuning,
  options: WinogradOptions = {},
): WinogradPlan {
  const layout = layoutOf(gpu, g, pass, tuning, options, label);
  const { depth, rows } = layout;
  const points = winogradPoints(layout.tile);
  const code = TRANSFORMS[layout.tile];
  const scratch = opScratch(gpu, options.scratch, winogradLayoutParts(layout), label);
  const transformed = scratchPart(scratch, 0, label);
  const products = scratchPart(scratch, 1, label);
  const u = tensor(transformed.buffer, [points, rows, depth], transformed.offset);
  const whole = tensor(transformed.buffer, [layout.transformedBytes / 4], transformed.offset);
  const transforms: Dispatch[] = [];
  const gemms: Dispatch[] = [];
  const dispatches: Dispatch[] = [];
  const filter = { ROWS: rows, DEPTH: depth, FLIP: pass === "forward" ? 0 : 1 };
  const pixels = g.inHeight * g.inWidth;
  for (const [r, run] of layout.runs.entries()) {
    const chunk = { start: run.start, geometry: { ...g, batch: run.batch } };
    const source = chunkPart(t.source, chunk, depth * pixels);
    const result = chunkPart(t.result, chunk, rows * pixels);
    const epilogue = chunkEpilogue(t.epilogue ?? {}, chunk, rows * pixels);
    const v = tensor(transformed.buffer, [points, depth, run.columns], transformed.offset + layout.vOffset);
    const m = tensor(products.buffer, [points, rows, run.columns], products.offset);
    const p = { rows, columns: run.columns, depth, points };
    const gemm = gemmDispatch(gpu, p, { u, v, m }, label, tuning, false);
    gemms.push(gemm);
    for (let c = 0; c < run.chunks; c++) {
      const sizes = tileConstants(g, run, c, layout.tile);
      // The first input transform also transforms the filter, which every GEMM after it reads.
      const filterInvocations = r === 0 && c === 0 ? rows * depth : 0;
      const input = kernel(gpu, {
        label: filterInvocations
          ? `${label} winograd filter and input transforms`
          : `${label} winograd input transform`,
        code: code.input,
        constants: {
          ...sizes,
          ...filter,
          CHANNELS: depth,
          V_AT: layout.vOffset / 4,
          FILTER_INVOCATIONS: filterInvocations,
        },
        bindings: { source, weight: t.weight, transformed: whole },
        workgroups: grid(filterInvocations + depth * run.columns, TRANSFORM_WORKGROUP),
      });
      const e = epilogueKernel(epilogue, m, label);
      const output = kernel(gpu, {
        label: `${label} winograd output transform`,
        code: code.output,
        entryPoint: `main${e.suffix}`,
        constants: { ...sizes, CHANNELS: rows, ...e.constants },
        bindings: { m, result, ...e.bindings },
        workgroups: grid(rows * run.columns, TRANSFORM_WORKGROUP),
      });
      transforms.push(input, output);
      dispatches.push(input, gemm, output);
    }
  }
  return { dispatches, transforms, gemms, layout };
}

/** The overrides of conv2d_winograd_tiles.wgsl for chunk `chunk` of `run`. */
function tileConstants(
  g: Conv2dGeometry,
  run: WinogradRun,
  chunk: number,
  tile: WinogradTile,
): Record<string, number> {
  return {
    WG: TRANSFORM_WORKGROUP,
    HEIGHT: g.inHeight,
    WIDTH: g.inWidth,
    BATCH: run.batch,
    TILE_OFFSET: chunk * run.columns,
    COLS: run.columns,
    TILE: tile,
  };
}

/**
 * The GEMMs of one chunk (one per point) in a single dispatch, adding to `m` if `accumulate`; the same for
 * every chunk of a run.
 */
function gemmDispatch(
  gpu: Gpu,
  p: GemmProblem & { points: number },
  t: { u: Tensor; v: Tensor; m: Tensor },
  label: string,
  tuning: ConvTuning,
  accumulate: boolean,
): Dispatch {
  const tl = gemmTiling(gpu, tuning, "winograd", p);
  const size = tileSize(tl);
  const groups = pointGroups(tl, p);
  const [x, y] = grid(Math.ceil(p.columns / (size.columns / groups)), 1);
  return kernel(gpu, {
    label: `${label} winograd GEMMs`,
    code: GEMM,
    entryPoint: tl.stagedSteps ? "main_staged" : "main",
    constants: {
      ...tilingConstants(tl),
      ROWS: p.rows,
      DEPTH: p.depth,
      COLS: p.columns,
      ACCUMULATE: accumulate ? 1 : 0,
      POINT_GROUPS: groups,
      COL_STRIDE: tl.workgroupX / groups,
    },
    bindings: t,
    workgroups: [x, y, (p.points / groups) * Math.ceil(p.rows / size.rows)],
  });
}

/**
 * `output = epilogue(conv2d(input, weight))` through Winograd; `g` must satisfy
 * {@linkcode winogradApplies}.
 */
export function winogradForwardOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; weight: Tensor; output: Tensor; epilogue?: ConvEpilogue },
  label: string,
  tuning: ConvTuning,
  options?: WinogradOptions,
): Dispatch[] {
  return winogradPlan(
    gpu,
    g,
    "forward",
    { source: t.input, weight: t.weight, result: t.output, epilogue: t.epilogue },
    label,
    tuning,
    options,
  ).dispatches;
}

/**
 * `gradWeight` overwritten with the backward-weight of `g` through Winograd (see
 * {@linkcode winogradApplies}).
 */
export function winogradBackwardWeightOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; gradOutput: Tensor; gradWeight: Tensor },
  label: string,
  tuning: ConvTuning,
  options?: WinogradOptions,
): Dispatch[] {
  return winogradBackwardWeightPlan(gpu, g, t, label, tuning, options).dispatches;
}

/** `gradInput` overwritten with the backward-data of `g` through Winograd (see {@linkcode winogradApplies}). */
export function winogradBackwardDataOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor },
  label: string,
  tuning: ConvTuning,
  options?: WinogradOptions,
): Dispatch[] {
  return winogradPlan(
    gpu,
    g,
    "backwardData",
    { source: t.gradOutput, weight: t.weight, result: t.gradInput },
    label,
    tuning,
    options,
  ).dispatches;
}

/**
 * Plans the backward-weight of `g` through Winograd: per chunk of tiles, one dispatch transforms both
 * grad_output and the input and one runs the GEMMs, which sum M over the chunks; one last dispatch turns M
 * into `gradWeight`, overwriting it. Every buffer but the scratch is the caller's.
 */
export function winogradBackwardWeightPlan(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; gradOutput: Tensor; gradWeight: Tensor },
  label: string,
  tuning: ConvTuning,
  options: WinogradOptions = {},
): WinogradPlan {
  const layout = layoutOf(gpu, g, "backwardWeight", tuning, options, label);
  const { rows, depth } = layout;
  const points = winogradPoints(layout.tile);
  const code = TRANSFORMS[layout.tile].weight;
  const scratch = opScratch(gpu, options.scratch, winogradLayoutParts(layout), label);
  const transformed = scratchPart(scratch, 0, label);
  const products = scratchPart(scratch, 1, label);
  const whole = tensor(transformed.buffer, [layout.transformedBytes / 4], transformed.offset);
  const m = tensor(products.buffer, [points, rows, depth], products.offset);
  const transforms: Dispatch[] = [];
  const gemms: Dispatch[] = [];
  const dispatches: Dispatch[] = [];
  const pixels = g.inHeight * g.inWidth;
  for (const [r, run] of layout.runs.entries()) {
    const chunk = { start: run.start, geometry: { ...g, batch: run.batch } };
    const input = chunkPart(t.input, chunk, depth * pixels);
    const gradOutput = chunkPart(t.gradOutput, chunk, rows * pixels);
    const u = tensor(transformed.buffer, [points, rows, run.columns], transformed.offset);
    const v = tensor(transformed.buffer, [points, run.columns, depth], transformed.offset + layout.vOffset);
    const p = { rows, columns: depth, depth: run.columns, points };
    // The op's first GEMMs overwrite M, every later one adds to it.
    const first = gemmDispatch(gpu, p, { u, v, m }, label, tuning, r > 0);
    const rest = r > 0 || run.chunks === 1 ? first : gemmDispatch(gpu, p, { u, v, m }, label, tuning, true);
    gemms.push(...new Set([first, rest]));
    for (let c = 0; c < run.chunks; c++) {
      const transform = kernel(gpu, {
        label: `${label} winograd gradient and input transforms`,
        code,
        constants: {
          ...tileConstants(g, run, c, layout.tile),
          CHANNELS: depth,
          OUT_CHANNELS: rows,
          V_AT: layout.vOffset / 4,
        },
        bindings: { input, gradOutput, transformed: whole },
        workgroups: grid((rows + depth) * run.columns, TRANSFORM_WORKGROUP),
      });
      transforms.push(transform);
      dispatches.push(transform, c === 0 ? first : rest);
    }
  }
  const kernelGradients = kernel(gpu, {
    label: `${label} winograd kernel transform`,
    code,
    entryPoint: "main_kernel",
    constants: { WG: TRANSFORM_WORKGROUP, CHANNELS: depth, OUT_CHANNELS: rows },
    bindings: { m, gradWeight: t.gradWeight },
    workgroups: grid(rows * depth, TRANSFORM_WORKGROUP),
  });
  transforms.push(kernelGradients);
  dispatches.push(kernelGradients);
  return { dispatches, transforms, gemms, layout };
}

/**
 * Values the transforms of `layout` write or read: U once and V and M per chunk; for backward-weight M once
 * and both transformed tensors per chunk.
 */
export function transformedValues(layout: WinogradLayout): number {
  const points = winogradPoints(layout.tile);
  let values = points * layout.rows * layout.depth;
  for (const r of layout.runs) values += points * r.chunks * r.columns * (layout.rows + layout.depth);
  return values;
}

/**
 * Milliseconds a Winograd op of `g` with tiles of `tile` pixels a side should take on `gpu` by the GEMM
 * throughput, transform cost and dispatch cost `tuning` holds; undefined unless the first two were
 * measured.
 */
export function winogradEstimateMs(
  gpu: Gpu,
  tuning: ConvTuning,
  g: Conv2dGeometry,
  pass: WinogradPass,
  tile: WinogradTile = 2,
): number | undefined {
  const cost = tile === 2 ? tuning.winogradTransformMsPerValue : tuning.winograd4TransformMsPerValue;
  if (cost === undefined || !isMeasured(tuning, "winograd") || !winogradApplies(gpu, g, tile)) {
    return undefined;
  }
  const layout = winogradLayout(
    g,
    pass,
    gpu.limits.maxStorageBufferBindingSize,
    WINOGRAD_SCRATCH_BYTES,
    "winograd estimate",
    tile,
  );
  const weightPass = pass === "backwardWeight";
  // Dispatches per chunk: the transforms and the GEMMs, and the output transform but for backward-weight,
  // whose kernel transform comes once.
  let ms = transformedValues(layout) * cost + (weightPass ? dispatchMs(tuning) : 0);
  for (const r of layout.runs) {
    const p = weightPass
      ? { rows: layout.rows, columns: layout.depth, depth: r.columns }
      : { rows: layout.rows, columns: r.columns, depth: layout.depth };
    const points = winogradPoints(tile);
    ms += r.chunks *
      (gemmEstimate(gpu, tuning, "winograd", { ...p, points }).ms +
        (weightPass ? 2 : 3) * dispatchMs(tuning));
  }
  return ms;
}

/**
 * The tile size `pass` of `g` runs through Winograd with on `gpu` under `tuning`, or `undefined` for the
 * direct GEMM: the forced algorithm ({@linkcode ConvTuning.algorithm}) where Winograd applies, else the
 * size whose measurements promise the shortest time, if shorter than the direct GEMM's (its one dispatch
 * against Winograd's three per chunk counted too). Without measurements the direct GEMM stays.
 */
export function winogradTile(
  gpu: Gpu,
  tuning: ConvTuning,
  g: Conv2dGeometry,
  pass: WinogradPass,
): WinogradTile | undefined {
  if (tuning.algorithm) {
    const forced = FORCED_TILES[tuning.algorithm];
    return forced && winogradApplies(gpu, g, forced) ? forced : undefined;
  }
  if (!isMeasured(tuning, pass)) return undefined;
  let best: WinogradTile | undefined;
  let bestMs = gemmEstimate(gpu, tuning, pass, gemmProblem(g, pass)).ms + dispatchMs(tuning);
  for (const tile of WINOGRAD_TILES) {
    const ms = winogradEstimateMs(gpu, tuning, g, pass, tile);
    if (ms !== undefined && ms < bestMs) [best, bestMs] = [tile, ms];
  }
  return best;
}

/** What `tuning` says a dispatch costs beyond its work: 0 unless measured. */
function dispatchMs(tuning: ConvTuning): number {
  return tuning.dispatchMs ?? 0;
}

/** The tile each forced algorithm takes. */
const FORCED_TILES: Record<NonNullable<ConvTuning["algorithm"]>, WinogradTile | undefined> = {
  direct: undefined,
  winograd: 2,
  winograd4x4: 4,
};

/** True when `pass` of `g` should run through Winograd on `gpu` under `tuning` (see {@linkcode winogradTile}). */
export function useWinograd(gpu: Gpu, tuning: ConvTuning, g: Conv2dGeometry, pass: WinogradPass): boolean {
  return winogradTile(gpu, tuning, g, pass) !== undefined;
}
