/**
 * Grouped-convolution throughput: `deno bench -A bench/grouped_conv_bench.ts`.
 *
 * Times the forward, backward-data and backward-weight passes of the grouped 3x3 convolutions of
 * resnext50_32x4d (32 groups; 4, 8, 16 and 32 channels per group in its four stages) against a dense
 * convolution of the same FLOPs: the same layer without groups on 1/32 of the batch, through the direct
 * implicit GEMM (Winograd is not used for the dense side, so that both rates are true FLOP rates). Runs
 * the cached convolution autotune first, as `cli.ts train` does. GFLOP/s (multiply-add = 2 FLOP) and the
 * grouped/dense ratio per pass are printed when the benches end.
 *
 * Environment: GROUPED_BENCH_BATCH (default 32, a multiple of 32: the dense side runs batch / 32),
 * GROUPED_BENCH_SIZE (the input resolution, default 224; the stages run at 1/4, 1/8, 1/16, 1/32 of it).
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { numel, type Tensor, tensor } from "../src/gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  type Conv2dPass,
} from "../src/ops/conv2d.ts";
import { gemmProblem } from "../src/ops/_conv_kernels.ts";
import { gemmTiling, windowPixels, windowRows } from "../src/ops/_conv_strategy.ts";
import { defaultCacheDir } from "../src/io/cache.ts";
import { tuneConvolutionsCached } from "../src/train/tuning.ts";
import { benchFastest, envInteger, figure, markdownTable } from "./_util.ts";

const GROUPS = 32;
const BATCH = envInteger("GROUPED_BENCH_BATCH", 32);
const SIZE = envInteger("GROUPED_BENCH_SIZE", 224);
if (BATCH % GROUPS !== 0) {
  throw new Error(`GROUPED_BENCH_BATCH must be a multiple of ${GROUPS}, got ${BATCH}`);
}

const gpu = await Gpu.create();
const tuning = { ...await tuneConvolutionsCached(gpu, defaultCacheDir()), algorithm: "direct" as const };
console.log(`adapter: ${gpu.adapter.description}; grouped batch ${BATCH}, dense batch ${BATCH / GROUPS}`);

const fastest = new Map<string, number>();
/** Per stage and pass: the grouped and the dense bench names, their (equal) FLOPs and the tilings chosen. */
const pairs: Array<
  { stage: string; pass: Conv2dPass; grouped: string; dense: string; flops: number; tilings: string[] }
> = [];

function make(label: string, shape: number[]): Tensor {
  return tensor(gpu.buffer(label, numel(shape) * 4), shape);
}

function geometry(batch: number, channels: number, size: number, groups: number) {
  return conv2dGeometry([batch, channels, size, size], {
    outChannels: channels,
    kernelSize: [3, 3],
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    groups,
  });
}

/**
 * The tiling the tuning picks for `pass` of `g`, as WG_X/WG_Y/TM/VN[/staged steps], or for the sliding
 * windows as "window" and what an invocation owns: output channels, rows x pixels (forward, also run by
 * backward-data), or output x input channels (backward-weight).
 */
function tilingOf(g: ReturnType<typeof geometry>, pass: Conv2dPass): string {
  const t = gemmTiling(gpu, tuning, pass, gemmProblem(g, pass));
  if (t.window === "forward") return `window ${t.rows}ch ${windowRows(t)}x${windowPixels(t)}px`;
  if (t.window === "backwardWeight") return `window ${t.rows}x${t.inputChannels}`;
  return Object.values(t).join("/");
}

function passDispatches(batch: number, channels: number, size: number, groups: number, pass: Conv2dPass) {
  const g = geometry(batch, channels, size, groups);
  const label = `${channels}ch g${groups} ${size}x${size} ${pass}`;
  const activations = () => make(label, [batch, channels, size, size]);
  const weight = make(label, [channels, channels / groups, 3, 3]);
  if (pass === "forward") {
    return conv2dForward(gpu, g, { input: activations(), weight, output: activations() }, label, tuning);
  }
  if (pass === "backwardData") {
    return conv2dBackwardData(
      gpu,
      g,
      { gradOutput: activations(), weight, gradInput: activations() },
      label,
      tuning,
    );
  }
  return conv2dBackwardWeight(
    gpu,
    g,
    { input: activations(), gradOutput: activations(), gradWeight: weight },
    label,
    tuning,
  );
}

const STAGES: Array<[channels: number, size: number]> = [
  [128, Math.ceil(SIZE / 4)],
  [256, Math.ceil(SIZE / 8)],
  [512, Math.ceil(SIZE / 16)],
  [1024, Math.ceil(SIZE / 32)],
];

for (const [channels, size] of STAGES) {
  const stage = `${channels} ch (${channels / GROUPS}/group) ${size}x${size}`;
  for (const pass of ["forward", "backwardData", "backwardWeight"] as const) {
    const flops = 2 * BATCH * size * size * channels * (channels / GROUPS) * 9;
    const grouped = `${stage} ${pass} grouped`, dense = `${stage} ${pass} dense`;
    const tilings = [
      tilingOf(geometry(BATCH, channels, size, GROUPS), pass),
      tilingOf(geometry(BATCH / GROUPS, channels, size, 1), pass),
    ];
    pairs.push({ stage, pass, grouped, dense, flops, tilings });
    benchFastest(gpu, fastest, {
      name: grouped,
      group: `${stage} ${pass}`,
      dispatches: passDispatches(BATCH, channels, size, GROUPS, pass),
    });
    benchFastest(gpu, fastest, {
      name: dense,
      group: `${stage} ${pass}`,
      dispatches: passDispatches(BATCH / GROUPS, channels, size, 1, pass),
    });
  }
}

globalThis.addEventListener("unload", () => {
  const rate = (name: string, flops: number) => flops / fastest.get(name)! / 1e6;
  const rows = pairs.filter((p) => fastest.has(p.grouped) && fastest.has(p.dense)).map((p) => {
    const grouped = rate(p.grouped, p.flops), dense = rate(p.dense, p.flops);
    return [p.stage, p.pass, figure(grouped), figure(dense), figure(grouped / dense, 2), ...p.tilings];
  });
  console.log("\nGFLOP/s (best iteration), grouped 32 groups against dense at the same FLOPs:");
  console.log(markdownTable(
    ["stage", "pass", "grouped", "dense", "grouped / dense", "grouped tiling", "dense tiling"],
    rows,
  ));
});
