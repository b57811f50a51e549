/**
 * The dispatches of the convolution GEMMs (forward, backward-data, backward-weight with its split
 * reduction, bias gradient), shared by {@link ./conv2d.ts} and {@link ./linear.ts}. Every geometry value
 * goes to WGSL as an override constant, so each layer shape gets a kernel with constant loop bounds.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, numel, type Tensor, tensor } from "../gpu/kernel.ts";
import {
  type ConvTuning,
  type GemmKind,
  type GemmProblem,
  type GemmTiling,
  gemmTiling,
  packsGroups,
  rowTiles,
  slidesWindow,
  SLIDING_WINDOW_TAPS,
  tileSize,
  tilingConstants,
  windowCells,
  windowPixels,
  windowRows,
} from "./_conv_strategy.ts";
import type { Conv2dGeometry } from "./_conv_geometry.ts";
import { axes, type Axis, windowConstants } from "./_window.ts";
import { opScratch, type Scratch } from "./_scratch.ts";
import { type ConvEpilogue, epilogueKernel } from "./_conv_epilogue.ts";
import tileSource from "../../shaders/conv2d_tile.wgsl" with { type: "text" };
import stagedTileSource from "../../shaders/conv2d_tile_shared.wgsl" with { type: "text" };
import geometrySource from "../../shaders/conv2d_geometry.wgsl" with { type: "text" };
import packedRowsSource from "../../shaders/conv2d_packed_rows.wgsl" with { type: "text" };
import forwardSource from "../../shaders/conv2d_forward.wgsl" with { type: "text" };
import forwardWindowSource from "../../shaders/conv2d_forward_window.wgsl" with { type: "text" };
import epilogueSource from "../../shaders/conv2d_epilogue.wgsl" with { type: "text" };
import backwardDataSource from "../../shaders/conv2d_backward_data.wgsl" with { type: "text" };
import backwardWeightSource from "../../shaders/conv2d_backward_weight.wgsl" with { type: "text" };
import backwardWeightWindowSource from "../../shaders/conv2d_backward_weight_window.wgsl" with {
  type: "text",
};
import reduceSource from "../../shaders/conv2d_reduce.wgsl" with { type: "text" };
import biasGradSource from "../../shaders/conv2d_bias_grad.wgsl" with { type: "text" };

/** The register-tiled and workgroup-memory GEMM cores every convolution GEMM (direct or Winograd) builds on. */
export const GEMM_CORE: string = compose(tileSource, stagedTileSource);
const DIRECT_GEMM = compose(GEMM_CORE, geometrySource, packedRowsSource);
const FORWARD = compose(DIRECT_GEMM, forwardSource, epilogueSource);
const FORWARD_WINDOW = compose(geometrySource, forwardWindowSource, epilogueSource);
const BACKWARD_DATA = compose(DIRECT_GEMM, backwardDataSource);
const BACKWARD_WEIGHT = compose(DIRECT_GEMM, backwardWeightSource);
const BACKWARD_WEIGHT_WINDOW = compose(geometrySource, backwardWeightWindowSource);

/** Reduction steps a backward-weight slice should at least have, so that splitting stays worth it. */
const MIN_STEPS_PER_SPLIT = 1024;
/**
 * Reduction steps a backward-data slice should at least have. Its partial sums are few (the input
 * gradient, usually far smaller than the weights backward-weight splits), so shorter slices pay.
 */
const MIN_STEPS_PER_DATA_SPLIT = 256;
/** Workgroups a split GEMM dispatch aims for, to fill a large GPU. */
const TARGET_WORKGROUPS = 512;
/** Largest split-K scratch buffer an op allocates. */
const MAX_SCRATCH_BYTES = 64 * 1024 * 1024;

/**
 * Throws unless `t` holds exactly `count` floats and, unless `chunked` (split along the batch where
 * needed), fits one storage binding.
 */
export function checkTensor(
  gpu: Gpu,
  label: string,
  name: string,
  t: Tensor,
  count: number,
  chunked = false,
): void {
  const actual = numel(t.shape);
  if (actual !== count) {
    throw new Error(`${label}: ${name} has ${actual} elements (shape [${t.shape}]), expected ${count}`);
  }
  if (!chunked && count * 4 > gpu.limits.maxStorageBufferBindingSize) {
    throw new Error(
      `${label}: ${name} takes ${count * 4} bytes, more than this adapter's maxStorageBufferBindingSize ` +
        `(${gpu.limits.maxStorageBufferBindingSize})`,
    );
  }
}

/** WGSL overrides of `g`'s sizes, as conv2d_geometry.wgsl declares them. */
export function geometryConstants(g: Conv2dGeometry): Record<string, number> {
  return {
    BATCH: g.batch,
    C_IN: g.inChannels,
    C_OUT: g.outChannels,
    ...windowConstants(g),
    GROUPS: g.groups,
  };
}

/**
 * The taps `first .. first + count - 1` of axis `a` outside which no tap lands inside the image for any
 * output position: tap k is live when `0 <= o * stride - pad + k * dilation < inSize` for some output o.
 * On small images this is less than the kernel (a 3x3 padding-1 kernel on a 1x1 image: its centre only),
 * and the GEMMs loop over the window alone. Backward-data needs no other taps, as each pair of an input
 * and an output position it sums over is one forward tap.
 */
export function liveTaps(a: Axis): { first: number; count: number } {
  const lands = (k: number) => {
    // Positions o * stride + shift for o < outSize: the first one at or after 0 must be < inSize.
    const shift = k * a.dilation - a.pad;
    const o = shift >= 0 ? 0 : Math.ceil(-shift / a.stride);
    return o < a.outSize && o * a.stride + shift < a.inSize;
  };
  let first = 0, last = a.kernel - 1;
  while (first < last && !lands(first)) first++;
  while (last > first && !lands(last)) last--;
  return { first, count: last - first + 1 };
}

/** The live tap windows of `g` (see {@linkcode liveTaps}), vertical then horizontal. */
function liveWindows(g: Conv2dGeometry): Array<{ first: number; count: number }> {
  return axes(g).map(liveTaps);
}

/** Live taps of `g`'s kernel: the reduction length per input channel of its direct GEMMs. */
export function liveTapCount(g: Conv2dGeometry): number {
  const [y, x] = liveWindows(g);
  return y.count * x.count;
}

/** True when some live tap of some output position reads the padding (forward and backward-weight). */
function readsPadding(a: Axis): boolean {
  const { first, count } = liveTaps(a);
  return first * a.dilation - a.pad < 0 ||
    (a.outSize - 1) * a.stride - a.pad + (first + count - 1) * a.dilation >= a.inSize;
}

/** Positions of `phase` (pixels phase, phase + stride, ... of the input) along axis `a`. */
function phasePositions(a: Axis, phase: number): number {
  return Math.max(0, Math.ceil((a.inSize - phase) / a.stride));
}

/**
 * The live taps of axis `a` that reach the input positions of `phase` in backward-data (those k with
 * phase + pad - k * dilation a multiple of the stride): an arithmetic progression.
 */
function phaseTaps(a: Axis, phase: number): number[] {
  const { first, count } = liveTaps(a);
  const taps: number[] = [];
  for (let k = first; k < first + count; k++) {
    if ((phase + a.pad - k * a.dilation) % a.stride === 0) taps.push(k);
  }
  return taps;
}

/** True when, in backward-data, some valid tap of some input position of `phase` falls outside grad_output. */
function readsOutsideGradOutput(a: Axis, phase: number): boolean {
  const positions = phasePositions(a, phase);
  return phaseTaps(a, phase).some((k) => {
    const shift = (phase + a.pad - k * a.dilation) / a.stride;
    return shift < 0 || positions - 1 + shift >= a.outSize;
  });
}

/** WGSL overrides of `g`'s live tap windows. */
function tapConstants(g: Conv2dGeometry): Record<string, number> {
  const [y, x] = liveWindows(g);
  return { TAP0_H: y.first, TAPS_H: y.count, TAP0_W: x.first, TAPS_W: x.count };
}

function gemmConstants(
  g: Conv2dGeometry,
  kind: GemmKind,
  t: GemmTiling,
  checkBounds: boolean,
): Record<string, number> {
  return {
    ...geometryConstants(g),
    ...tapConstants(g),
    ...tilingConstants(t),
    CHECK_BOUNDS: checkBounds ? 1 : 0,
    PACKED: packsGroups(t, gemmProblem(g, kind)) ? 1 : 0,
  };
}

/**
 * The GEMM one group of a convolution runs for `kind`, over the live taps only (see {@linkcode liveTaps}).
 * Backward-data runs one GEMM per stride phase, each over that phase's pixels; together their depths add
 * up to all the live taps. For `"winograd"`, one of
 * the 16 GEMMs of the forward pass in the transformed domain, over every 2x2 output tile of the batch.
 */
export function gemmProblem(g: Conv2dGeometry, kind: GemmKind): GemmProblem {
  const cgIn = g.inChannels / g.groups, cgOut = g.outChannels / g.groups;
  const taps = liveTapCount(g);
  const pixels = g.batch * g.outHeight * g.outWidth;
  const groups = g.groups;
  if (kind === "forward") {
    const p = { rows: cgOut, columns: pixels, depth: cgIn * taps, groups };
    return slidingWindowApplies(g) && g.strideWidth <= 2
      ? { ...p, slidingWindow: true, imageSize: { height: g.outHeight, width: g.outWidth } }
      : p;
  }
  if (kind === "winograd") {
    const tiles = g.batch * Math.ceil(g.outHeight / 2) * Math.ceil(g.outWidth / 2);
    return { rows: cgOut, columns: tiles, depth: cgIn, groups };
  }
  if (kind === "backwardWeight") {
    const p = { rows: cgOut, columns: cgIn * taps, depth: pixels, groups };
    return slidingWindowApplies(g) ? { ...p, slidingWindow: true } : p;
  }
  const phasePixels = g.batch * Math.ceil(g.inHeight / g.strideHeight) * Math.ceil(g.inWidth / g.strideWidth);
  const p = { rows: cgIn, columns: phasePixels, depth: cgOut * taps, groups };
  return transposedWindowApplies(g)
    ? { ...p, slidingWindow: true, imageSize: { height: g.inHeight, width: g.inWidth } }
    : p;
}

/**
 * True when backward-data of `g` can run as the forward sliding windows of {@linkcode transposedGeometry}:
 * stride 1, and a padding of at most 2, which the transposed convolution's makes up to the kernel.
 */
function transposedWindowApplies(g: Conv2dGeometry): boolean {
  return slidingWindowApplies(g) && g.strideHeight === 1 && g.strideWidth === 1 && g.padHeight <= 2 &&
    g.padWidth <= 2;
}

/**
 * The forward convolution that backward-data of the 3x3 stride-1 convolution `g` is: grad_output in,
 * grad_input out, padded by 2 - `g`'s padding, with `g`'s kernel transposed and flipped.
 */
function transposedGeometry(g: Conv2dGeometry): Conv2dGeometry {
  return {
    ...g,
    inChannels: g.outChannels,
    inHeight: g.outHeight,
    inWidth: g.outWidth,
    outChannels: g.inChannels,
    outHeight: g.inHeight,
    outWidth: g.inWidth,
    padHeight: 2 - g.padHeight,
    padWidth: 2 - g.padWidth,
  };
}

/**
 * True when the sliding-window kernels can run `g`: 3x3, dilation 1, every tap live (forward's also needs
 * a stride of 1 or 2 along rows).
 */
function slidingWindowApplies(g: Conv2dGeometry): boolean {
  return g.kernelHeight === 3 && g.kernelWidth === 3 && g.dilationHeight === 1 && g.dilationWidth === 1 &&
    liveTapCount(g) === SLIDING_WINDOW_TAPS;
}

function tilingFor(gpu: Gpu, g: Conv2dGeometry, kind: GemmKind, tuning: ConvTuning): GemmTiling {
  return gemmTiling(gpu, tuning, kind, gemmProblem(g, kind));
}

/**
 * Forward GEMM: `output = epilogue(conv(input, weight))`, tiled as `tuning` says: a GEMM tiling, or a 3x3
 * kernel's sliding windows (see `FORWARD_WINDOW_CANDIDATES`); `label` is the dispatch's
 * `"<layer>: <op>"`. `rowsPerChannel` GEMM rows make one output channel (see `epilogueKernel`).
 */
export function forwardDispatch(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; weight: Tensor; output: Tensor },
  epilogue: ConvEpilogue,
  label: string,
  tuning: ConvTuning,
  rowsPerChannel = 1,
): Dispatch {
  const tl = tilingFor(gpu, g, "forward", tuning);
  const e = epilogueKernel(epilogue, t.weight, label, rowsPerChannel);
  const bindings = { input: t.input, weight: t.weight, output: t.output, ...e.bindings };
  if (slidesWindow(tl)) return forwardWindowDispatch(gpu, g, tl, bindings, e, label, false);
  const size = tileSize(tl);
  const columnTiles = Math.ceil((g.batch * g.outHeight * g.outWidth) / size.columns);
  const [x, y] = grid(columnTiles, 1);
  return kernel(gpu, {
    label,
    code: FORWARD,
    entryPoint: `${tl.stagedSteps ? "main_staged" : "main"}${e.suffix}`,
    constants: { ...gemmConstants(g, "forward", tl, axes(g).some(readsPadding)), ...e.constants },
    bindings,
    workgroups: [x, y, rowTiles(tl, gemmProblem(g, "forward"))],
  });
}

/**
 * The forward sliding windows of `tl` over `g` with epilogue `e`; `transposed`: `g` is the
 * {@linkcode transposedGeometry} of a backward-data whose weight `bindings` holds.
 */
function forwardWindowDispatch(
  gpu: Gpu,
  g: Conv2dGeometry,
  tl: GemmTiling,
  bindings: Record<string, Tensor>,
  e: ReturnType<typeof epilogueKernel>,
  label: string,
  transposed: boolean,
): Dispatch {
  const p = gemmProblem(g, "forward");
  const channelBlocks = g.groups * Math.ceil(p.rows / tl.rows);
  const [x, y] = grid(windowCells(tl, p) / channelBlocks, tl.workgroupX);
  // Runs that overhang their rows or images read past them, so they test the bounds too.
  const checkBounds = axes(g).some(readsPadding) || g.outWidth % windowPixels(tl) !== 0 ||
    g.outHeight % windowRows(tl) !== 0;
  return kernel(gpu, {
    label,
    code: FORWARD_WINDOW,
    entryPoint: `main${e.suffix}`,
    constants: {
      ...geometryConstants(g),
      ...tilingConstants(tl),
      CHECK_BOUNDS: checkBounds ? 1 : 0,
      TRANSPOSED: transposed ? 1 : 0,
      ...e.constants,
    },
    bindings,
    workgroups: [x, y, channelBlocks],
  });
}

/**
 * How a backward-data reduction over the output channels is split: into slices of `channelsPerSplit`
 * channels each, so that a GEMM with few output elements but a long reduction (small images, many
 * channels) still spreads over enough workgroups. One slice when the GEMM is large enough as it is.
 */
export function dataSplit(
  gpu: Gpu,
  g: Conv2dGeometry,
  tiling: GemmTiling,
): { splits: number; channelsPerSplit: number } {
  const channels = g.outChannels / g.groups;
  // The sliding windows reduce over every channel of a group.
  if (slidesWindow(tiling)) return { splits: 1, channelsPerSplit: channels };
  const size = tileSize(tiling);
  const p = gemmProblem(g, "backwardData");
  const phases = g.strideHeight * g.strideWidth;
  const outputTiles = Math.ceil(p.columns / size.columns) * rowTiles(tiling, p) * phases;
  const gradInputBytes = g.batch * g.inChannels * g.inHeight * g.inWidth * 4;
  const scratchLimit = Math.min(MAX_SCRATCH_BYTES, gpu.limits.maxStorageBufferBindingSize);
  const wanted = Math.min(
    Math.ceil(TARGET_WORKGROUPS / outputTiles),
    Math.floor(p.depth / phases / MIN_STEPS_PER_DATA_SPLIT),
    Math.floor(scratchLimit / gradInputBytes),
    channels,
  );
  const channelsPerSplit = Math.ceil(channels / Math.max(1, wanted));
  return { splits: Math.ceil(channels / channelsPerSplit), channelsPerSplit };
}

/** Slices {@linkcode backwardDataDispatches} splits `g`'s GEMM into under `tuning` (1: unsplit). */
export function dataSplits(gpu: Gpu, g: Conv2dGeometry, tuning: ConvTuning): number {
  return dataSplit(gpu, g, tilingFor(gpu, g, "backwardData", tuning)).splits;
}

/** Bytes of split-K scratch {@linkcode backwardDataDispatches} needs for `g` under `tuning` (0: unsplit). */
export function dataSplitBytes(gpu: Gpu, g: Conv2dGeometry, tuning: ConvTuning): number {
  const splits = dataSplits(gpu, g, tuning);
  return splits > 1 ? splits * g.batch * g.inChannels * g.inHeight * g.inWidth * 4 : 0;
}

/**
 * Backward-data GEMMs, `gradInput = conv_transpose(gradOutput, weight)`, every element overwritten: one
 * dispatch per run of stride phases that all have taps or all have none, each split over the output
 * channels as {@linkcode dataSplit} says, and then the sum of the slices (with `o.unsummed`, the slices
 * are left in `gradInput`, which holds them all); tiled as `tuning` says. A forward sliding-window tiling
 * (stride 1 only) runs it as one forward convolution, see {@linkcode transposedGeometry}.
 */
export function backwardDataDispatches(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor; scratch?: Scratch },
  label: string,
  tuning: ConvTuning,
  o: { unsummed?: boolean } = {},
): Dispatch[] {
  const tl = tilingFor(gpu, g, "backwardData", tuning);
  if (slidesWindow(tl)) {
    const bindings = { input: t.gradOutput, weight: t.weight, output: t.gradInput };
    const e = epilogueKernel({}, t.weight, label);
    return [
      forwardWindowDispatch(gpu, transposedGeometry(g), tl, { ...bindings, ...e.bindings }, e, label, true),
    ];
  }
  const size = tileSize(tl);
  const { splits, channelsPerSplit } = dataSplit(gpu, g, tl);
  const count = g.batch * g.inChannels * g.inHeight * g.inWidth;
  const unsummed = o.unsummed === true && splits > 1;
  const [scratch] = unsummed ? [] : opScratch(gpu, t.scratch, [dataSplitBytes(gpu, g, tuning)], label);
  const [axisY, axisX] = axes(g);
  const tiles = rowTiles(tl, gemmProblem(g, "backwardData"));
  const [phasesY, phasesX] = [Math.min(g.strideHeight, g.inHeight), Math.min(g.strideWidth, g.inWidth)];
  const phases = Array.from({ length: phasesY * phasesX }, (_, i) => [Math.floor(i / phasesX), i % phasesX]);
  const tapped = phases.map(([y, x]) => phaseTaps(axisY, y).length > 0 && phaseTaps(axisX, x).length > 0);
  // Every phase lays its pixels out on phase (0, 0)'s grid, the largest.
  const [x, y] = grid(
    Math.ceil((g.batch * phasePositions(axisY, 0) * phasePositions(axisX, 0)) / size.columns),
    1,
  );
  const dispatch = (first: number, phaseCount: number) => {
    const covered = phases.slice(first, first + phaseCount);
    const checkBounds = covered.some(([py, px]) =>
      readsOutsideGradOutput(axisY, py) || readsOutsideGradOutput(axisX, px)
    );
    return kernel(gpu, {
      label,
      code: BACKWARD_DATA,
      entryPoint: tl.stagedSteps ? "main_staged" : "main",
      constants: {
        ...gemmConstants(g, "backwardData", tl, checkBounds),
        PHASES_Y: phasesY,
        PHASES_X: phasesX,
        PHASE_FIRST: first,
        PHASE_COUNT: phaseCount,
        TAPLESS: tapped[first] ? 0 : 1,
        SPLITS: splits,
        CHANNELS_PER_SPLIT: channelsPerSplit,
      },
      bindings: {
        gradOutput: t.gradOutput,
        weight: t.weight,
        gradInput: scratch ? tensor(scratch.buffer, [splits * count], scratch.offset) : t.gradInput,
      },
      workgroups: [x, y, tiles * splits * phaseCount],
    });
  };
  // A dispatch per run of phases that all have taps or all have none (a 1x1 stride-2 kernel's three).
  const dispatches: Dispatch[] = [];
  for (let first = 0, end = 1; first < phases.length; first = end++) {
    while (end < phases.length && tapped[end] === tapped[first]) end++;
    dispatches.push(dispatch(first, end - first));
  }
  if (scratch) {
    dispatches.push(
      sumSlicesDispatch(gpu, { partial: scratch, total: t.gradInput }, splits, count, `${label} split sum`),
    );
  }
  return dispatches;
}

/** How a backward-weight reduction over `batch * outHeight` output rows is split. */
export function weightSplit(
  gpu: Gpu,
  g: Conv2dGeometry,
  tiling: GemmTiling,
): { splits: number; rowsPerSplit: number } {
  const p = gemmProblem(g, "backwardWeight");
  // Workgroups per slice: the sliding-window kernel spreads its invocations over the slices too.
  const outputTiles = slidesWindow(tiling)
    ? windowCells(tiling, p) / tiling.workgroupX
    : Math.ceil(p.columns / tileSize(tiling).columns) * rowTiles(tiling, p);
  const rows = g.batch * g.outHeight;
  // The partial sums keep grad_weight's layout, dead taps included.
  const weightBytes = g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth * 4;
  const scratchLimit = Math.min(MAX_SCRATCH_BYTES, gpu.limits.maxStorageBufferBindingSize);
  const wanted = Math.min(
    Math.ceil(TARGET_WORKGROUPS / outputTiles),
    Math.floor((rows * g.outWidth) / MIN_STEPS_PER_SPLIT),
    Math.floor(scratchLimit / weightBytes),
    gpu.limits.maxComputeWorkgroupsPerDimension,
  );
  const rowsPerSplit = Math.ceil(rows / Math.max(1, wanted));
  return { splits: Math.ceil(rows / rowsPerSplit), rowsPerSplit };
}

/** Bytes of split-K scratch {@linkcode backwardWeightDispatches} needs for `g` under `tuning` (0: unsplit). */
export function weightSplitBytes(gpu: Gpu, g: Conv2dGeometry, tuning: ConvTuning): number {
  const { splits } = weightSplit(gpu, g, tilingFor(gpu, g, "backwardWeight", tuning));
  return splits > 1
    ? splits * g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth * 4
    : 0;
}

/** What backward-weight writes to: the gradient, its op scratch, and whether its dead taps are zero. */
export interface BackwardWeightTensors {
  input: Tensor;
  gradOutput: Tensor;
  gradWeight: Tensor;
  scratch?: Scratch;
  /**
   * Whether `gradWeight`'s entries of dead taps already hold zero and nothing else writes them (a parameter
   * gradient in its zero-initialised buffer): an unsplit GEMM then needs no fill pass.
   */
  deadTapsZeroed?: boolean;
}

/**
 * Backward-weight GEMM over the live taps, split along the batch when that gives more parallel work, then
 * summed; the entries of dead taps are set to zero (by the sum, or by a fill when unsplit, unless
 * `t.deadTapsZeroed`). Tiled as `tuning` says: a GEMM tiling, or a 3x3 kernel's sliding windows (see
 * `SLIDING_WINDOW_CANDIDATES`).
 */
export function backwardWeightDispatches(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: BackwardWeightTensors,
  label: string,
  tuning: ConvTuning,
): Dispatch[] {
  return backwardWeightPlan(gpu, g, t, label, tuning).dispatches;
}

/** {@linkcode backwardWeightDispatches} and the split-K scratch buffer they use, if any. */
export function backwardWeightPlan(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: BackwardWeightTensors,
  label: string,
  tuning: ConvTuning,
): { dispatches: Dispatch[]; scratch?: Tensor } {
  const tl = tilingFor(gpu, g, "backwardWeight", tuning);
  const p = gemmProblem(g, "backwardWeight");
  const { splits, rowsPerSplit } = weightSplit(gpu, g, tl);
  const count = numel(t.gradWeight.shape);
  const allLive = liveTapCount(g) === g.kernelHeight * g.kernelWidth;
  const [scratch] = opScratch(gpu, t.scratch, [weightSplitBytes(gpu, g, tuning)], label);
  const checkBounds = axes(g).some(readsPadding);
  const bindings = { input: t.input, gradOutput: t.gradOutput, partial: scratch ?? t.gradWeight };
  const gemm = slidesWindow(tl)
    ? kernel(gpu, {
      label,
      code: BACKWARD_WEIGHT_WINDOW,
      constants: {
        ...geometryConstants(g),
        ...tilingConstants(tl),
        CHECK_BOUNDS: checkBounds ? 1 : 0,
        ROWS_PER_SPLIT: rowsPerSplit,
        SPLITS: splits,
      },
      bindings,
      workgroups: grid(windowCells(tl, p) * splits, tl.workgroupX),
    })
    : kernel(gpu, {
      label,
      code: BACKWARD_WEIGHT,
      entryPoint: tl.stagedSteps ? "main_staged" : "main",
      constants: { ...gemmConstants(g, "backwardWeight", tl, checkBounds), ROWS_PER_SPLIT: rowsPerSplit },
      bindings,
      workgroups: [Math.ceil(p.columns / tileSize(tl).columns), splits, rowTiles(tl, p)],
    });
  const deadTaps = allLive ? undefined : g;
  if (!scratch) {
    if (allLive || t.deadTapsZeroed) return { dispatches: [gemm] };
    // No slices to sum (the input is bound only because the shader declares them): dead taps only.
    const fill = sumSlicesDispatch(
      gpu,
      { partial: t.input, total: t.gradWeight },
      0,
      count,
      `${label} dead taps`,
      count,
      g,
    );
    return { dispatches: [gemm, fill] };
  }
  const reduce = sumSlicesDispatch(
    gpu,
    { partial: scratch, total: t.gradWeight },
    splits,
    count,
    `${label} split sum`,
    count,
    deadTaps,
  );
  return { dispatches: [gemm, reduce], scratch };
}

/**
 * `total[i] = sum over s < slices of partial[s * stride + i]` for `i < count` (stride defaults to count).
 * With `zeroDeadTapsOf`, `total` is a weight gradient of that convolution and its entries of dead taps
 * (see {@linkcode liveTaps}) are set to zero instead; with 0 `slices`, only those are written.
 */
export function sumSlicesDispatch(
  gpu: Gpu,
  t: { partial: GPUBuffer | Tensor; total: Tensor },
  slices: number,
  count: number,
  label: string,
  stride = count,
  zeroDeadTapsOf?: Conv2dGeometry,
): Dispatch {
  const taps = zeroDeadTapsOf
    ? { K_H: zeroDeadTapsOf.kernelHeight, K_W: zeroDeadTapsOf.kernelWidth, ...tapConstants(zeroDeadTapsOf) }
    : {};
  return kernel(gpu, {
    label,
    code: reduceSource,
    constants: { COUNT: count, SPLITS: slices, STRIDE: stride, ...taps },
    bindings: t,
    workgroups: grid(count, 64),
  });
}

/** `gradBias[c] = sum of gradOutput[n, c, ...]` over the batch and the pixels. */
export function biasGradientDispatch(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; gradBias: Tensor },
  label: string,
): Dispatch {
  return kernel(gpu, {
    label,
    code: biasGradSource,
    constants: { BATCH: g.batch, CHANNELS: g.outChannels, PIXELS: g.outHeight * g.outWidth },
    bindings: { gradOutput: t.gradOutput, gradBias: t.gradBias },
    workgroups: [g.outChannels, 1, 1],
  });
}
