/**
 * A short autotune of the convolution GEMM tilings: each candidate of {@link ./_conv_strategy.ts} is timed
 * on a mid-sized 3x3 convolution of stride 1 and one of stride 2 per GEMM kind, and plans given the result
 * (a {@linkcode ConvTuning} value) choose by the measured throughput. The Winograd path's GEMMs are timed
 * the same way and its transforms once, so that each 3x3 stride-1 convolution can weigh Winograd against
 * the direct GEMM for its own shape. The result can be kept (it is plain JSON) and passed back to skip the
 * measuring next time.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, numel, type Tensor, tensor } from "../gpu/kernel.ts";
import { timeDispatches, timeEach } from "../gpu/timing.ts";
import {
  canRun,
  type ConvTuning,
  fitsLimits,
  fixedTiling,
  FORWARD_WINDOW_CANDIDATES,
  GEMM_KINDS,
  type GemmKind,
  type GemmTiling,
  type MeasuredTiling,
  paddedWork,
  slidesWindow,
  SLIDING_WINDOW_CANDIDATES,
  suitsAdapter,
  tileSize,
  TILING_CANDIDATES,
  UNTUNED,
} from "./_conv_strategy.ts";
import {
  backwardDataDispatches,
  backwardWeightPlan,
  dataSplitBytes,
  forwardDispatch,
  gemmProblem,
  sumSlicesDispatch,
  weightSplitBytes,
} from "./_conv_kernels.ts";
import {
  transformedValues,
  WINOGRAD_SCRATCH_BYTES,
  WINOGRAD_TILES,
  winogradLayout,
  winogradLayoutParts,
  type WinogradOptions,
  winogradPlan,
  winogradPoints,
  type WinogradTile,
} from "./_conv_winograd.ts";
import type { Conv2dGeometry } from "./_conv_geometry.ts";

/** What {@linkcode tuneConvolutions} measured: a {@linkcode ConvTuning} with every measurement present. */
export interface MeasuredConvTuning extends ConvTuning {
  /** The adapter and limits the measurements hold for. */
  readonly adapterKey: string;
  /** Candidate tilings with their measured throughput, per GEMM kind. */
  readonly results: Readonly<Record<GemmKind, readonly MeasuredTiling[]>>;
  /** Milliseconds per value the Winograd F(2x2, 3x3) transforms write (GEMMs: `results.winograd`). */
  readonly winogradTransformMsPerValue: number;
  /** Likewise for F(4x4, 3x3). */
  readonly winograd4TransformMsPerValue: number;
  /** Milliseconds a dispatch costs beyond its work. */
  readonly dispatchMs: number;
}

/** Options of {@linkcode tuneConvolutions}. */
export interface TuneOptions {
  /** An earlier result: reused without measuring when it was made on the same adapter. */
  previous?: ConvTuning;
  /**
   * The tilings to try (default: the candidates that suit the adapter's class and limits, see
   * `suitsAdapter` in `_conv_strategy.ts`; given ones are tried if the limits allow them); the sliding-window ones
   * among them for their own kind only.
   */
  candidates?: readonly GemmTiling[];
  /**
   * The convolution to time (default: 64 -> 64 channels, 3x3, 16x16 pixels, batch 8 doubled up to 128
   * until a forward run lasts 1 ms, together with its stride-2 counterpart on 32x32 pixels); Winograd is
   * timed on its 3x3 stride-1 padding-1 counterpart.
   */
  geometry?: Conv2dGeometry;
  /** Least GPU time per measurement, so that dispatch and sync overheads stay small (default 60). */
  minMilliseconds?: number;
  /**
   * How many of the forward GEMM's fastest tilings the other GEMM kinds try (default 3), besides the fastest
   * narrow one.
   */
  shortlist?: number;
}

/** The forward GEMM's fastest tilings that the other kinds try, by default. */
const SHORTLIST = 3;

/** Tile columns up to which a tiling suits the few columns of small images at small batches. */
const NARROW_TILE_COLUMNS = 64;

/**
 * The `count` fastest tilings of `measured`, and the fastest narrow one (see
 * {@linkcode NARROW_TILE_COLUMNS}) if none of those is, in their order there: the tuning problem's many
 * columns rate the wide tiles first, which a layer of 1x1 or 2x2 pixels pads to 2-4 times its work.
 */
function shortlist(measured: readonly MeasuredTiling[], count: number): GemmTiling[] {
  const byRate = [...measured].sort((a, b) => b.gflops - a.gflops);
  const fastest = byRate.slice(0, count);
  const narrow = (m: MeasuredTiling) =>
    !slidesWindow(m.tiling) && tileSize(m.tiling).columns <= NARROW_TILE_COLUMNS;
  if (!fastest.some(narrow)) fastest.push(...byRate.filter(narrow).slice(0, 1));
  return measured.filter((m) => fastest.includes(m)).map((m) => m.tiling);
}

/**
 * A 3x3 stride-1 padding-1 convolution, no dilation or groups (what Winograd computes), with `g`'s batch,
 * channels and image size.
 */
function winogradGeometry(
  g: Pick<Conv2dGeometry, "batch" | "inChannels" | "inHeight" | "inWidth" | "outChannels">,
): Conv2dGeometry {
  return {
    batch: g.batch,
    inChannels: g.inChannels,
    inHeight: g.inHeight,
    inWidth: g.inWidth,
    outChannels: g.outChannels,
    kernelHeight: 3,
    kernelWidth: 3,
    strideHeight: 1,
    strideWidth: 1,
    padHeight: 1,
    padWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    groups: 1,
    outHeight: g.inHeight,
    outWidth: g.inWidth,
  };
}

const DEFAULT_GEOMETRY = winogradGeometry({
  batch: 8,
  inChannels: 64,
  inHeight: 16,
  inWidth: 16,
  outChannels: 64,
});

/**
 * The default problem with its batch doubled (at most 16 times) until its forward GEMM lasts about 1 ms:
 * a tile that wins on a problem too small to fill a fast GPU loses at training sizes.
 */
async function fillingGeometry(gpu: Gpu): Promise<Conv2dGeometry> {
  const g = DEFAULT_GEOMETRY;
  const made: GPUBuffer[] = [];
  try {
    const label = "conv tuning size";
    const t = convTensors(gpu, g, made);
    const dispatch = await gpu.checked(label, () => forwardDispatch(gpu, g, t, {}, label, UNTUNED));
    const ms = await timeDispatches(gpu, [dispatch], { minMilliseconds: 10 });
    const doublings = Math.min(4, Math.max(0, Math.ceil(Math.log2(1 / ms))));
    return winogradGeometry({ ...g, batch: g.batch << doublings });
  } finally {
    for (const buffer of made) gpu.release(buffer);
  }
}

/** A tensor of `shape` for the tuning, its buffer recorded in `made` to be released afterwards. */
function tuningTensor(gpu: Gpu, label: string, shape: number[], made: GPUBuffer[]): Tensor {
  const buffer = gpu.buffer(`conv tuning ${label}`, numel(shape) * 4);
  made.push(buffer);
  return tensor(buffer, shape);
}

/** The input, weight and output of convolution `g`, for the tuning. */
function convTensors(
  gpu: Gpu,
  g: Conv2dGeometry,
  made: GPUBuffer[],
): Record<"input" | "weight" | "output", Tensor> {
  return {
    input: tuningTensor(gpu, "input", [g.batch, g.inChannels, g.inHeight, g.inWidth], made),
    weight: tuningTensor(
      gpu,
      "weight",
      [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth],
      made,
    ),
    output: tuningTensor(gpu, "output", [g.batch, g.outChannels, g.outHeight, g.outWidth], made),
  };
}

/** The stride-2 counterpart of `g`: twice the image, so the same output size and work. */
function strided(g: Conv2dGeometry): Conv2dGeometry {
  return { ...g, inHeight: 2 * g.inHeight, inWidth: 2 * g.inWidth, strideHeight: 2, strideWidth: 2 };
}

function adapterKey(gpu: Gpu): string {
  const a = gpu.adapter, l = gpu.limits;
  return [
    a.description,
    a.vendor,
    a.architecture,
    l.maxComputeInvocationsPerWorkgroup,
    l.maxComputeWorkgroupStorageSize,
    l.maxStorageBufferBindingSize,
    // A different candidate set or way of measuring (a newer version of the module) is measured again.
    JSON.stringify(TILING_CANDIDATES),
    JSON.stringify(SLIDING_WINDOW_CANDIDATES),
    JSON.stringify(FORWARD_WINDOW_CANDIDATES),
    "two problems, interleaved rounds",
  ].join("|");
}

/** True when `previous` holds every measurement this version makes (older caches lack some). */
function complete(previous: ConvTuning): previous is MeasuredConvTuning {
  return GEMM_KINDS.every((kind) => Array.isArray(previous.results?.[kind])) &&
    Number.isFinite(previous.winogradTransformMsPerValue) &&
    Number.isFinite(previous.winograd4TransformMsPerValue) && Number.isFinite(previous.dispatchMs);
}

/**
 * True when `tuning` holds every measurement of this version, made on `gpu`'s adapter.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { measuredOn, UNTUNED } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * console.log(measuredOn(gpu, UNTUNED)); // false: nothing measured
 * ```
 */
export function measuredOn(gpu: Gpu, tuning: ConvTuning): tuning is MeasuredConvTuning {
  return tuning.adapterKey === adapterKey(gpu) && complete(tuning);
}

/**
 * Times every candidate tiling of the convolution GEMMs on `gpu` and returns the measurements as a value:
 * steps compiled with it (`TrainingStep.compile(gpu, model, { tuning })`) use the fastest tiling for each
 * shape. Takes seconds to a minute, mostly creating the candidates' pipelines.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { tuneConvolutions } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const tuning = await tuneConvolutions(gpu); // plain JSON: keep it, e.g. in a file
 * await tuneConvolutions(gpu, { previous: tuning }); // same adapter: returned without measuring
 * ```
 */
export async function tuneConvolutions(gpu: Gpu, options: TuneOptions = {}): Promise<MeasuredConvTuning> {
  const key = adapterKey(gpu);
  const previous = options.previous;
  if (previous && measuredOn(gpu, previous)) return previous;
  const g = options.geometry ?? await fillingGeometry(gpu);
  const tilings = options.candidates?.filter((t) => fitsLimits(gpu, t)) ??
    [...TILING_CANDIDATES, ...FORWARD_WINDOW_CANDIDATES, ...SLIDING_WINDOW_CANDIDATES]
      .filter((t) => suitsAdapter(gpu, t));
  const candidates = tilings.filter((t) => !slidesWindow(t));
  const minMilliseconds = options.minMilliseconds ?? 60;
  const made: GPUBuffer[] = [];
  const make = (label: string, shape: number[]) => tuningTensor(gpu, label, shape, made);
  // A ResNet has stride-2 convolutions besides stride-1 ones, and a tiling can win on one and lose on the
  // other: the default times both, with the same work.
  const problems = options.geometry ? [options.geometry] : [g, strided(g)];
  // The sliding windows are timed for their kinds on those of the same problems they run (the default
  // ones all but backward-data's stride-2 one): an invocation's work does not depend on the groups, so
  // dense problems rate them.
  const problemsOf = (kind: GemmKind, tiling: GemmTiling) =>
    problems.flatMap((p, i) => canRun(tiling, kind, gemmProblem(p, kind)) ? [i] : []);
  const windowsOf = (kind: GemmKind) =>
    tilings.filter((t) => slidesWindow(t) && problemsOf(kind, t).length > 0);
  const windows = windowsOf("backwardWeight");
  const problemTensors = problems.map((p) => convTensors(gpu, p, made));
  const wg = winogradGeometry(g);
  const winogradWeight = make("winograd weight", [wg.outChannels, wg.inChannels, 3, 3]);
  const winogradOutput = make("winograd output", [wg.batch, wg.outChannels, wg.outHeight, wg.outWidth]);
  const maxBindingBytes = gpu.limits.maxStorageBufferBindingSize;
  const layouts = WINOGRAD_TILES.map((tile) =>
    winogradLayout(wg, "forward", maxBindingBytes, WINOGRAD_SCRATCH_BYTES, "conv tuning", tile)
  );
  // The winograd GEMM kind is timed on the 2x2 tiles' layout.
  const [layout] = layouts;
  // One private scratch for every candidate (they run one after another), released below like every
  // buffer of the tuning: Winograd's U and V, or a split GEMM's partial sums, then Winograd's M.
  const splitBytes = problems.flatMap((p) => [
    ...candidates.map((tiling) => dataSplitBytes(gpu, p, fixedTiling(tiling, ["backwardData"]))),
    ...[...candidates, ...windows].map((tiling) =>
      weightSplitBytes(gpu, p, fixedTiling(tiling, ["backwardWeight"]))
    ),
  ]);
  const winogradParts = layouts.map(winogradLayoutParts);
  const scratch = [
    make("scratch 0", [Math.ceil(Math.max(...winogradParts.map((p) => p[0]), ...splitBytes) / 4)]),
    make("scratch 1", [Math.ceil(Math.max(...winogradParts.map((p) => p[1])) / 4)]),
  ];
  const winograd = (tuning: ConvTuning, label: string, tile: WinogradTile = 2) => {
    const o: WinogradOptions = { maxBindingBytes, scratch, tile };
    const t = { source: problemTensors[0].input, weight: winogradWeight, result: winogradOutput };
    return winogradPlan(gpu, wg, "forward", t, label, tuning, o);
  };
  // Multiply-adds of the GEMMs (one per point) of every chunk.
  const winogradWork = (tiling: GemmTiling) =>
    layout.runs.reduce(
      (sum, r) =>
        sum +
        r.chunks * paddedWork(tiling, {
            rows: layout.rows,
            columns: r.columns,
            depth: layout.depth,
            points: winogradPoints(layout.tile),
          }),
      0,
    );
  /** One candidate's dispatches for `kind`, over every problem it runs. */
  const gemmDispatches = (kind: GemmKind, tiling: GemmTiling, label: string): Dispatch[] => {
    const tuning = fixedTiling(tiling, [kind]);
    if (kind === "winograd") {
      return winograd(tuning, label).gemms.flatMap((d, i) => Array(layout.runs[i].chunks).fill(d));
    }
    return problemsOf(kind, tiling).flatMap((i) => {
      const p = problems[i];
      const { input, weight, output } = problemTensors[i];
      if (kind === "forward") return [forwardDispatch(gpu, p, { input, weight, output }, {}, label, tuning)];
      if (kind === "backwardData") {
        return backwardDataDispatches(
          gpu,
          p,
          { gradOutput: output, weight, gradInput: input, scratch },
          label,
          tuning,
        );
      }
      const t = { input, gradOutput: output, gradWeight: weight, scratch };
      return backwardWeightPlan(gpu, p, t, label, tuning).dispatches;
    });
  };
  const results = {} as Record<GemmKind, MeasuredTiling[]>;
  const transformMsPerValue: number[] = [];
  let dispatchMs: number;
  try {
    for (const kind of GEMM_KINDS) {
      const label = `conv tuning: ${kind}`;
      // Compiling the candidates' pipelines is most of the tuning's time: the forward GEMM, whose ranking
      // reflects what the adapter rewards (registers or workgroup memory), times them all; the other
      // kinds only its shortlist of GEMM tilings; each kind the sliding windows that run it besides,
      // backward-data (forward's windows, transposed) only the two that were fastest for forward.
      const tried = kind === "forward"
        ? [...candidates]
        : shortlist(results.forward.filter((m) => !slidesWindow(m.tiling)), options.shortlist ?? SHORTLIST);
      const kindWindows = windowsOf(kind);
      tried.push(
        ...kind === "backwardData"
          ? shortlist(results.forward.filter((m) => kindWindows.includes(m.tiling)), 2)
          : kindWindows,
      );
      const dispatches: Dispatch[][] = [];
      for (const tiling of tried) {
        dispatches.push(await gpu.checked(label, () => gemmDispatches(kind, tiling, label)));
      }
      const ms = await timeEach(gpu, dispatches, { minMilliseconds });
      results[kind] = tried.map((tiling, i) => {
        const work = kind === "winograd" ? winogradWork(tiling) : problemsOf(kind, tiling).reduce(
          (sum, i) => sum + paddedWork(tiling, gemmProblem(problems[i], kind)),
          0,
        );
        return Object.freeze({ tiling, gflops: (2 * work) / (ms[i] * 1e6) });
      });
      Object.freeze(results[kind]);
    }
    // Planned with the GEMM tilings just measured, whose pipelines exist; only the transforms are timed.
    for (const tile of WINOGRAD_TILES) {
      const label = `conv tuning: winograd ${tile}x${tile} transforms`;
      const plan = await gpu.checked(label, () => winograd({ results }, label, tile));
      transformMsPerValue.push(
        (await timeDispatches(gpu, plan.transforms, { minMilliseconds })) / transformedValues(plan.layout),
      );
    }
    const sums = make("dispatch cost input", [DISPATCH_COST_FLOATS]);
    dispatchMs = await dispatchCost(gpu, sums, make("dispatch cost output", [DISPATCH_COST_FLOATS / 2]));
  } finally {
    for (const buffer of made) gpu.release(buffer);
  }
  const [winogradTransformMsPerValue, winograd4TransformMsPerValue] = transformMsPerValue;
  return Object.freeze({
    adapterKey: key,
    results: Object.freeze(results),
    winogradTransformMsPerValue,
    winograd4TransformMsPerValue,
    dispatchMs,
  });
}

/** Floats the dispatches that {@linkcode dispatchCost} times read: two halves of one workgroup's 64. */
const DISPATCH_COST_FLOATS = 128;
/** Dispatches per timed list of {@linkcode dispatchCost}. */
const DISPATCH_COST_COPIES = 32;

/**
 * Milliseconds one dispatch costs beyond its work: a list of one-workgroup sums of `input`'s two halves
 * into `output`, each writing what the one before wrote (as a step's dispatches depend on each other),
 * timed in one submit, per dispatch.
 * It is what choosing a path of more dispatches (Winograd's three) costs besides their work: a few
 * hundredths of a millisecond on a CPU driver, where the work dwarfs it, and on a fast GPU as much as a
 * whole small convolution.
 */
async function dispatchCost(gpu: Gpu, input: Tensor, output: Tensor): Promise<number> {
  const label = "conv tuning: dispatch cost";
  const count = DISPATCH_COST_FLOATS / 2;
  const dispatch = await gpu.checked(
    label,
    () => sumSlicesDispatch(gpu, { partial: input, total: output }, 2, count, label),
  );
  const ms = await timeDispatches(gpu, Array(DISPATCH_COST_COPIES).fill(dispatch), { minMilliseconds: 20 });
  return ms / DISPATCH_COST_COPIES;
}
