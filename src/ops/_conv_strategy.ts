/**
 * How the convolution kernels tile their GEMMs on a given adapter, decided by a {@linkcode ConvTuning}
 * value the caller passes in (no state is kept here). Untuned ({@linkcode UNTUNED}), each GEMM takes the
 * moderate register tiling that pads its problem least (ties go to the first, a sound default anywhere).
 * With the measurements of {@link ./_conv_tune.ts}, each GEMM takes the one whose measured throughput and
 * padding promise the shortest time.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";

/**
 * The three GEMMs a convolution or linear layer runs, and the batched GEMM of Winograd (either tile size) in the
 * transformed domain (see {@link ./_conv_winograd.ts}).
 */
export type GemmKind = "forward" | "backwardData" | "backwardWeight" | "winograd";

/** The GEMM kinds, in a fixed order. */
export const GEMM_KINDS: readonly GemmKind[] = ["forward", "backwardData", "backwardWeight", "winograd"];

/** Register tiling of one GEMM kernel (the WGSL overrides of `shaders/conv2d_tile.wgsl`). */
export interface GemmTiling {
  /** Invocations per workgroup along the GEMM's columns (pixels or weight entries). */
  workgroupX: number;
  /** Invocations per workgroup along the GEMM's rows (channels). */
  workgroupY: number;
  /** Rows per invocation: 1, 2, 4, 8 or 16. */
  rows: number;
  /** Groups of four columns per invocation: 1, 2 or 4. */
  columnVectors: number;
  /**
   * Reduction steps the workgroup stages in workgroup memory at a time; absent: registers only, each
   * invocation loading its own operands.
   */
  stagedSteps?: number;
  /**
   * Set for the sliding-window kernels of 3x3 convolutions only: the GEMM kind whose kernel this tiling
   * runs instead of the GEMM core, with `workgroupX` invocations per workgroup (`workgroupY` is 1).
   * `"forward"` (see {@linkcode FORWARD_WINDOW_CANDIDATES}): each invocation computes `rows` output
   * channels of one group x `outputRows` output rows x `4 * columnVectors` consecutive pixels of each;
   * it also runs backward-data of stride 1, as a forward convolution of grad_output with the kernel
   * transposed.
   * `"backwardWeight"` (see {@linkcode SLIDING_WINDOW_CANDIDATES}): `rows` output channels x
   * `inputChannels` input channels x the 9 taps of one group (`columnVectors` is 1).
   */
  window?: "forward" | "backwardWeight";
  /** Input channels per invocation of a backward-weight window: 1, 2 or 4; `rows * inputChannels <= 16`. */
  inputChannels?: number;
  /** Output rows per invocation of a forward window: 1 (if absent), 2 or 4, with `rows * outputRows <= 16`. */
  outputRows?: number;
}

/**
 * The tilings the kernels are built with and the autotuner tries. GPUs favour tiles staged in workgroup
 * memory and small per-invocation tiles in large workgroups (registers are dear, loads cheap); CPU drivers
 * favour 16x16 register tiles without barriers, as every load costs tens of cycles there; the narrow ones
 * suit GEMMs with few columns (8 columns wide: the small images of the last ResNet stages; 64: a small
 * batch, the columns of a convolution on tiny images as a dense matrix, one row of 8 invocations so that
 * a CPU driver's SIMD lanes share each weight load: on llvmpipe 1.2-1.5x a 4x8-invocation tile of as many
 * columns over layers of 1x1 and 2x2 pixels at batch 64); the last two, of 4 rows per
 * invocation, are for grouped convolutions with few channels per group (ResNeXt's 4 and 8), whose
 * groups they pack into shared tiles (see {@linkcode packsGroups}): wide for the pixels of forward and
 * backward-data, and 64 columns for backward-weight's few (36 at 4 channels per group).
 */
export const TILING_CANDIDATES: readonly GemmTiling[] = [
  { workgroupX: 16, workgroupY: 4, rows: 8, columnVectors: 2 },
  { workgroupX: 16, workgroupY: 16, rows: 4, columnVectors: 1 },
  { workgroupX: 16, workgroupY: 1, rows: 16, columnVectors: 4 },
  { workgroupX: 8, workgroupY: 4, rows: 16, columnVectors: 4 },
  { workgroupX: 4, workgroupY: 8, rows: 8, columnVectors: 2 },
  { workgroupX: 16, workgroupY: 16, rows: 8, columnVectors: 2, stagedSteps: 8 },
  { workgroupX: 16, workgroupY: 16, rows: 4, columnVectors: 1, stagedSteps: 16 },
  { workgroupX: 8, workgroupY: 8, rows: 4, columnVectors: 2, stagedSteps: 16 },
  { workgroupX: 2, workgroupY: 8, rows: 8, columnVectors: 1 },
  { workgroupX: 8, workgroupY: 1, rows: 16, columnVectors: 2 },
  { workgroupX: 16, workgroupY: 4, rows: 4, columnVectors: 4 },
  { workgroupX: 8, workgroupY: 8, rows: 4, columnVectors: 2 },
];

/**
 * The sliding-window tilings of backward-weight for 3x3 kernels (`shaders/conv2d_backward_weight_window.wgsl`),
 * which the autotune times beside the GEMM tilings. A GEMM tile of a grouped convolution with few channels
 * per group is a few rows by at most 36 or 72 columns, so it loads an operand per one to three
 * multiply-adds; an invocation that owns a whole block of output channels x input channels x taps instead
 * loads each grad_output value once for all its input channels and taps, and each input value once for
 * the 3 horizontal taps, sliding along the output row: 9 multiply-adds per load at 4 x 4 channels. Blocks
 * of 4 and 8 output channels, ResNeXt's first groups: 4 x 4 and 8 x 2 (144 accumulators, for CPU drivers,
 * where loads are dear), 4 x 2 (72, lighter on a GPU's registers), and 16 x 1 for larger groups.
 */
export const SLIDING_WINDOW_CANDIDATES: readonly GemmTiling[] = [
  { workgroupX: 64, workgroupY: 1, rows: 4, columnVectors: 1, window: "backwardWeight", inputChannels: 4 },
  { workgroupX: 64, workgroupY: 1, rows: 8, columnVectors: 1, window: "backwardWeight", inputChannels: 2 },
  { workgroupX: 64, workgroupY: 1, rows: 4, columnVectors: 1, window: "backwardWeight", inputChannels: 2 },
  { workgroupX: 64, workgroupY: 1, rows: 16, columnVectors: 1, window: "backwardWeight", inputChannels: 1 },
];

/**
 * The sliding-window tilings of forward for 3x3 kernels of stride 1 or 2 along rows
 * (`shaders/conv2d_forward_window.wgsl`), which the autotune times beside the GEMM tilings (and for
 * backward-data of stride 1 beside its shortlist). The GEMM tile of a grouped convolution with few
 * channels per group has a group's 4 or 8 rows, so it loads an input value per 4 or 8 multiply-adds; an
 * invocation that owns a block of output channels x 2 output rows x a run of pixels along them instead
 * loads each input value once for its 3 horizontal taps, all its channels and the tap rows of both output
 * rows that reach it (2 * 3 * 4 * 8 multiply-adds per 10 input loads at 4 channels x 8 pixels, stride 1,
 * away from the image's edges), and the workgroup shares the weights. 8 channels x 16 pixels (256
 * accumulators, for CPU drivers, where loads are dear, and 8 or more channels per group), 4 channels x 8
 * or 4 pixels for ResNeXt's first groups and short rows, and 4 channels x 4 rows x 8 pixels, whose input
 * rows serve up to 3 output rows each (about 1.25x the 2-row windows' rate at 4 channels per group on
 * llvmpipe).
 */
export const FORWARD_WINDOW_CANDIDATES: readonly GemmTiling[] = [
  { workgroupX: 64, workgroupY: 1, rows: 8, columnVectors: 4, outputRows: 2, window: "forward" },
  { workgroupX: 64, workgroupY: 1, rows: 4, columnVectors: 2, outputRows: 2, window: "forward" },
  { workgroupX: 64, workgroupY: 1, rows: 4, columnVectors: 1, outputRows: 2, window: "forward" },
  { workgroupX: 64, workgroupY: 1, rows: 4, columnVectors: 2, outputRows: 4, window: "forward" },
];

/** Taps of the kernels the sliding-window tilings apply to (3x3). */
export const SLIDING_WINDOW_TAPS = 9;

/** A GEMM's size: output rows and columns (per group), the length of its reduction and the groups. */
export interface GemmProblem {
  /** Output rows of one group. */
  rows: number;
  /** Output columns of one group. */
  columns: number;
  /** Multiply-adds per output element. */
  depth: number;
  /** Independent GEMMs of this size (a grouped convolution's groups); 1 if absent. */
  groups?: number;
  /**
   * Independent GEMMs of this size run side by side (Winograd's points), whose columns a register tiling
   * may pack into one workgroup (see {@linkcode pointGroups}); 1 if absent.
   */
  points?: number;
  /**
   * True when the sliding-window tilings that run this GEMM's kind (backward-data: forward's) can run it:
   * a 3x3 kernel, dilation 1, all taps live, for forward a stride of 1 or 2 along rows, for backward-data
   * stride 1 and a padding of at most 2 (backward-weight's columns are then input channels x
   * {@linkcode SLIDING_WINDOW_TAPS}); false if absent.
   */
  slidingWindow?: boolean;
  /**
   * The image of the columns (output pixels; backward-data: input pixels), for a forward or backward-data
   * GEMM the sliding windows can run: their runs of pixels do not cross rows, nor their blocks of rows
   * images.
   */
  imageSize?: { height: number; width: number };
}

/** A tiling with the throughput the autotuner measured for it. */
export interface MeasuredTiling {
  /** The tiling. */
  tiling: GemmTiling;
  /** Measured GFLOP/s on the tuning problem. */
  gflops: number;
}

/**
 * What decides how a compiled convolution or linear layer runs: the autotune's measurements (see
 * {@link ./_conv_tune.ts}) and, for tests and benchmarks, a forced algorithm or tiling. A plain, immutable
 * value: steps compiled with the same tuning run the same kernels. Every field is optional; the empty
 * value {@linkcode UNTUNED} is the untuned default.
 */
export interface ConvTuning {
  /** The adapter and limits the measurements hold for. */
  readonly adapterKey?: string;
  /** Candidate tilings with their measured throughput, per GEMM kind; a kind absent is unmeasured. */
  readonly results?: Readonly<Partial<Record<GemmKind, readonly MeasuredTiling[]>>>;
  /**
   * Milliseconds per value the Winograd F(2x2, 3x3) transforms write (GEMM throughput is in
   * `results.winograd`).
   */
  readonly winogradTransformMsPerValue?: number;
  /** Likewise for F(4x4, 3x3); absent (a tuning made before it existed), those tiles are not used. */
  readonly winograd4TransformMsPerValue?: number;
  /** Milliseconds a dispatch costs beyond its work, which a path of more dispatches pays; absent: 0. */
  readonly dispatchMs?: number;
  /**
   * The algorithm of every convolution Winograd applies to (tests and benchmarks): the direct GEMM,
   * Winograd F(2x2, 3x3) (`"winograd"`) or F(4x4, 3x3); absent: chosen by the measurements, direct until
   * measured.
   */
  readonly algorithm?: "direct" | "winograd" | "winograd4x4";
  /** The tiling every GEMM of a kind uses, whatever was measured (tests and benchmarks). */
  readonly tilings?: Readonly<Partial<Record<GemmKind, GemmTiling>>>;
}

/** The untuned default: nothing measured, nothing forced. */
export const UNTUNED: ConvTuning = Object.freeze({});

/**
 * A tuning that makes every GEMM of `kinds` use `tiling` (tests and benchmarks), with `base`'s other
 * fields.
 *
 * @example
 * ```ts
 * import { fixedTiling } from "@denogpu/resnet/ops";
 * const tuning = fixedTiling({ workgroupX: 16, workgroupY: 16, rows: 4, columnVectors: 1 }, ["forward"]);
 * console.log(Object.keys(tuning.tilings ?? {})); // ["forward"]
 * ```
 */
export function fixedTiling(
  tiling: GemmTiling,
  kinds: readonly GemmKind[] = GEMM_KINDS,
  base: ConvTuning = UNTUNED,
): ConvTuning {
  const tilings = { ...base.tilings };
  for (const kind of kinds) tilings[kind] = tiling;
  return Object.freeze({ ...base, tilings: Object.freeze(tilings) });
}

/**
 * True when `t` is a sliding-window tiling (see {@linkcode FORWARD_WINDOW_CANDIDATES} and
 * {@linkcode SLIDING_WINDOW_CANDIDATES}).
 */
export function slidesWindow(t: GemmTiling): boolean {
  return t.window !== undefined;
}

/** WGSL override values of a tiling. */
export function tilingConstants(t: GemmTiling): Record<string, number> {
  if (t.window === "backwardWeight") return { WG: t.workgroupX, TM: t.rows, CI: t.inputChannels! };
  if (t.window === "forward") {
    return { WG: t.workgroupX, TM: t.rows, VN: t.columnVectors, RH: windowRows(t) };
  }
  const constants: Record<string, number> = {
    WG_X: t.workgroupX,
    WG_Y: t.workgroupY,
    TM: t.rows,
    VN: t.columnVectors,
  };
  if (t.stagedSteps) constants.KC = t.stagedSteps;
  return constants;
}

/** Rows and columns of the GEMM output that one workgroup of `t` covers. */
export function tileSize(t: GemmTiling): { rows: number; columns: number } {
  return { rows: t.rows * t.workgroupY, columns: 4 * t.columnVectors * t.workgroupX };
}

/** True when `t`'s workgroup (and workgroup memory) is within the adapter's limits. */
export function fitsLimits(gpu: Gpu, t: GemmTiling): boolean {
  const l = gpu.limits;
  const threads = t.workgroupX * t.workgroupY;
  const fits = threads <= l.maxComputeInvocationsPerWorkgroup && t.workgroupX <= l.maxComputeWorkgroupSizeX &&
    t.workgroupY <= l.maxComputeWorkgroupSizeY;
  if (!t.stagedSteps) return fits;
  // Staging has every invocation load whole tile rows and columns of steps.
  const size = tileSize(t);
  return fits && threads % size.rows === 0 && threads % size.columns === 0 &&
    t.stagedSteps * (size.rows + size.columns) * 4 <= l.maxComputeWorkgroupStorageSize;
}

/**
 * True when `t` is worth timing on `gpu`'s class of adapter. Staging through workgroup memory pays where
 * that memory is on chip and loads from it cheap (GPUs). A fallback adapter is a software implementation
 * on the CPU: its workgroup memory is ordinary memory, so staging only adds copies and barriers (on
 * llvmpipe the staged tilings ran at a quarter to half of the register tilings' rate and were the slowest
 * to compile: about 10 s of a cold autotune's 57 through Vulkan, 12 to 23 s each through GL).
 */
export function suitsAdapter(gpu: Gpu, t: GemmTiling): boolean {
  return fitsLimits(gpu, t) && !(t.stagedSteps && gpu.adapter.isFallbackAdapter);
}

/**
 * True when `t` packs the rows of all of `p`'s groups into its tiles, each invocation's rows within one
 * group, instead of padding each group's rows to whole tiles: a grouped GEMM, a register tiling (staging
 * shares one group's column operands across the workgroup) and groups of whole invocation rows.
 */
export function packsGroups(t: GemmTiling, p: GemmProblem): boolean {
  return (p.groups ?? 1) > 1 && !t.stagedSteps && p.rows % t.rows === 0;
}

/** Workgroup row tiles `t` covers `p`'s rows with, over all its groups. */
export function rowTiles(t: GemmTiling, p: GemmProblem): number {
  const groups = p.groups ?? 1;
  const tileRows = tileSize(t).rows;
  return packsGroups(t, p) ? Math.ceil((p.rows * groups) / tileRows) : Math.ceil(p.rows / tileRows) * groups;
}

/** Output pixels of a row per invocation of the forward sliding-window tiling `t`. */
export function windowPixels(t: GemmTiling): number {
  return 4 * t.columnVectors;
}

/** Output rows per invocation of the forward sliding-window tiling `t`. */
export function windowRows(t: GemmTiling): number {
  return t.outputRows ?? 1;
}

/**
 * Invocations of the sliding-window tiling `t` over `p` (every group). Forward: one per block of output
 * channels of a group x block of rows of an image x run of pixels along them. Backward-weight, per
 * reduction slice: one per block of output channels x input channels of a group.
 */
export function windowCells(t: GemmTiling, p: GemmProblem): number {
  const blocks = (p.groups ?? 1) * Math.ceil(p.rows / t.rows);
  if (t.window === "forward") {
    const { height, width } = p.imageSize!;
    const images = p.columns / (height * width);
    return blocks * images * Math.ceil(height / windowRows(t)) * Math.ceil(width / windowPixels(t));
  }
  return blocks * Math.ceil(p.columns / SLIDING_WINDOW_TAPS / t.inputChannels!);
}

/**
 * How many of `p`'s points one workgroup of `t` takes side by side, each over a `1 / groups` share of its
 * columns: the most (up to 4) whose share still spans all of a point's columns, so that few columns (a
 * backward-weight GEMM's input channels, a small batch's tiles) do not leave most of a tile idle. A
 * register tiling only (staging shares one point's operands across the workgroup), and a number that
 * divides the points and the workgroup's width.
 */
export function pointGroups(t: GemmTiling, p: GemmProblem): number {
  const points = p.points ?? 1;
  if (t.stagedSteps || t.window) return 1;
  let groups = 1;
  while (
    groups < 4 && points % (2 * groups) === 0 && t.workgroupX % (2 * groups) === 0 &&
    p.columns <= tileSize(t).columns / (2 * groups)
  ) groups *= 2;
  return groups;
}

/** Multiply-adds `t` spends on `p` (every group and point), counting the padding of partial tiles. */
export function paddedWork(t: GemmTiling, p: GemmProblem): number {
  if (t.window === "forward") {
    return windowCells(t, p) * t.rows * windowRows(t) * windowPixels(t) * p.depth;
  }
  if (t.window === "backwardWeight") {
    return windowCells(t, p) * t.rows * t.inputChannels! * SLIDING_WINDOW_TAPS * p.depth;
  }
  const size = tileSize(t);
  const columns = size.columns / pointGroups(t, p);
  return rowTiles(t, p) * size.rows * Math.ceil(p.columns / columns) * columns * p.depth * (p.points ?? 1);
}

/** Untuned, the choice is among the register tilings of at most 8x8 values per invocation, fine anywhere. */
function untunedCandidates(gpu: Gpu): MeasuredTiling[] {
  return TILING_CANDIDATES.filter((t) =>
    !t.stagedSteps && t.rows * t.columnVectors <= 16 && fitsLimits(gpu, t)
  )
    .map((tiling) => ({ tiling, gflops: 1 }));
}

/**
 * The tiling to use for a `kind` GEMM of size `p` on `gpu` under `tuning`, and the milliseconds it should
 * take: a true estimate once the autotune has measured `kind` (see {@linkcode isMeasured}), a mere ranking
 * before. A forced tiling is taken as it is, at its measured throughput if it was measured.
 */
export function gemmEstimate(
  gpu: Gpu,
  tuning: ConvTuning,
  kind: GemmKind,
  p: GemmProblem,
): { tiling: GemmTiling; ms: number } {
  const measured = tuning.results?.[kind];
  const forced = tuning.tilings?.[kind];
  if (forced && !canRun(forced, kind, p)) {
    throw new Error(
      `a ${forced.window} sliding-window tiling cannot run this ${kind} GEMM (3x3 kernels of dilation 1 ` +
        "whose taps are all live only; forward: of stride 1 or 2 along rows, backward-data: of stride 1 " +
        "and padding at most 2)",
    );
  }
  const options = forced
    ? [{ tiling: forced, gflops: measured?.find((m) => sameTiling(m.tiling, forced))?.gflops ?? 1 }]
    : measured ?? untunedCandidates(gpu);
  let best: GemmTiling | undefined, bestTime = Infinity;
  for (const { tiling, gflops } of options) {
    if (!canRun(tiling, kind, p)) continue;
    const time = (2 * paddedWork(tiling, p)) / (gflops * 1e6);
    if (time < bestTime) [best, bestTime] = [tiling, time];
  }
  if (!best) throw new Error("no convolution tiling fits this adapter's workgroup limits");
  return { tiling: best, ms: bestTime };
}

/**
 * True when `t` can run the `kind` GEMM `p`: any GEMM tiling; a sliding window the problems of its own
 * kind that it applies to, forward's also those of backward-data (which it runs as a forward convolution).
 */
export function canRun(t: GemmTiling, kind: GemmKind, p: GemmProblem): boolean {
  return !slidesWindow(t) || (windowKernelOf(kind) === t.window && p.slidingWindow === true);
}

/** The sliding-window kernel that runs `kind` GEMMs, if any. */
function windowKernelOf(kind: GemmKind): GemmTiling["window"] {
  if (kind === "forward" || kind === "backwardData") return "forward";
  return kind === "backwardWeight" ? kind : undefined;
}

function sameTiling(a: GemmTiling, b: GemmTiling): boolean {
  return a.workgroupX === b.workgroupX && a.workgroupY === b.workgroupY && a.rows === b.rows &&
    a.columnVectors === b.columnVectors && a.stagedSteps === b.stagedSteps && a.window === b.window &&
    a.inputChannels === b.inputChannels && a.outputRows === b.outputRows;
}

/** The tiling to use for a `kind` GEMM of size `p` on `gpu` under `tuning`. */
export function gemmTiling(gpu: Gpu, tuning: ConvTuning, kind: GemmKind, p: GemmProblem): GemmTiling {
  return gemmEstimate(gpu, tuning, kind, p).tiling;
}

/** True when `tuning` holds the autotune's measurements of `kind` GEMMs. */
export function isMeasured(tuning: ConvTuning, kind: GemmKind): boolean {
  return tuning.results?.[kind] !== undefined;
}
