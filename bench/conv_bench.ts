/**
 * Convolution and matmul throughput: `deno bench -A bench/conv_bench.ts`.
 *
 * Runs the convolution autotune first, then times the best matmul at 1024^3 (linearForward with each
 * candidate tiling) and the forward, backward-data and backward-weight GEMMs of every distinct
 * convolution of resnet18 with the CIFAR stem (3x3 stride-1 stem, 32x32 input). The 3x3 stride-1 shapes
 * time all three passes as the direct implicit GEMM and through Winograd F(2x2, 3x3) and
 * F(4x4, 3x3), and mark the one the autotune picks; convolutions on images with fewer pixels than taps
 * (the ImageNet stem's 2x2 stage) run as dense matrices, as the library runs them. Each op is timed by
 * `timeDispatches` (enough copies in one submit to outlast the wait, whose cost is subtracted); GFLOP/s
 * (multiply-add = 2 FLOP, padding not counted, Winograd's "effective" GFLOP/s counted with the direct
 * algorithm's FLOPs) are printed when the benches end, with a side-by-side table of the three algorithms.
 *
 * Environment: CONV_BENCH_BATCH (default 128; use e.g. 8 on a CPU driver, where batch 128 takes
 * minutes), CONV_BENCH_STEM (`cifar`, the default, or `imagenet`: resnet18
 * with the 7x7 stride-2 stem and max-pool on 32x32 inputs, whose last stages run at 2x2 and 1x1 pixels),
 * CONV_BENCH_TUNING (`default`: the adapter class's default, {@linkcode defaultConvTuning}, in place of the
 * autotune, to see what a user who never tunes gets).
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { type Dispatch, numel, type Tensor, tensor } from "../src/gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  defaultConvTuning,
  tuneConvolutions,
} from "../src/ops/conv2d.ts";
import { forwardDispatch, gemmProblem } from "../src/ops/_conv_kernels.ts";
import { denseApplies } from "../src/ops/_conv_dense.ts";
import { winogradApplies, type WinogradTile, winogradTile } from "../src/ops/_conv_winograd.ts";
import {
  type ConvTuning,
  fitsLimits,
  fixedTiling,
  type GemmKind,
  gemmTiling,
  TILING_CANDIDATES,
} from "../src/ops/_conv_strategy.ts";
import { benchFastest } from "./_util.ts";

const BATCH = Number(Deno.env.get("CONV_BENCH_BATCH") ?? 128);

const gpu = await Gpu.create();
console.log(`adapter: ${gpu.adapter.description}; batch ${BATCH}`);
/** The autotune's measurements, timed. */
async function tuned() {
  const start = performance.now();
  const measured = await tuneConvolutions(gpu);
  console.log(`autotune took ${((performance.now() - start) / 1000).toFixed(1)} s:`);
  return measured;
}

const tuning = Deno.env.get("CONV_BENCH_TUNING") === "default" ? defaultConvTuning(gpu) : await tuned();
for (const [kind, results] of Object.entries(tuning.results ?? {})) {
  const line = results.map((r) => `${Object.values(r.tiling).join("/")}=${r.gflops.toFixed(2)}`).join("  ");
  console.log(`  ${kind}: ${line} (tile WG_X/WG_Y/TM/VN = GFLOP/s)`);
}
const nsPerValue = (ms?: number) => ms === undefined ? "unmeasured" : (ms * 1e6).toFixed(2);
console.log(
  `  winograd transforms: ${nsPerValue(tuning.winogradTransformMsPerValue)} ns per value (2x2 tiles), ` +
    `${nsPerValue(tuning.winograd4TransformMsPerValue)} (4x4)`,
);

/** Milliseconds of the best iteration and FLOPs per op, by bench name. */
const fastest = new Map<string, number>(), flopsOf = new Map<string, number>();
/** The bench the library runs for each pass of each convolution of resnet18, and how often a step runs it. */
const inStep: Array<{ name: string; uses: number }> = [];
/** The algorithms a 3x3 stride-1 convolution is timed with, each with the tile it stands for. */
const ALGORITHMS: ReadonlyArray<[NonNullable<ConvTuning["algorithm"]>, WinogradTile | undefined]> = [
  ["direct", undefined],
  ["winograd", 2],
  ["winograd4x4", 4],
];
/** Name prefixes of the 3x3 stride-1 benches timed both directly and through Winograd. */
const sideBySide: string[] = [];

function make(label: string, shape: number[]): Tensor {
  return tensor(gpu.buffer(label, numel(shape) * 4), shape);
}

function bench(group: string, name: string, flops: number, dispatches: Dispatch[], uses = 0): void {
  flopsOf.set(name, flops);
  if (uses > 0) inStep.push({ name, uses });
  benchFastest(gpu, fastest, { name, group, dispatches });
}

// Matmul 1024^3: a linear layer with 1024 rows, one bench per tiling.
{
  const n = 1024;
  const g = conv2dGeometry([n, n, 1, 1], {
    outChannels: n,
    kernelSize: [1, 1],
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
  });
  const t = {
    input: make("a", [n, n, 1, 1]),
    weight: make("b", [n, n, 1, 1]),
    output: make("c", [n, n, 1, 1]),
  };
  for (const tiling of TILING_CANDIDATES.filter((c) => fitsLimits(gpu, c))) {
    const name = `matmul 1024^3 tiling ${Object.values(tiling).join("/")}`;
    bench("matmul 1024^3", name, 2 * n ** 3, [
      forwardDispatch(gpu, g, t, {}, name, fixedTiling(tiling, ["forward"])),
    ]);
  }
}

/**
 * A convolution of resnet18: [inChannels, outChannels, inSize, kernel, stride, uses], where `uses` is how
 * many convolutions of the network have this shape.
 */
type Shape = [number, number, number, number, number, number];

/** resnet18 with the CIFAR stem on 32x32 inputs. */
const CIFAR_SHAPES: Shape[] = [
  [3, 64, 32, 3, 1, 1],
  [64, 64, 32, 3, 1, 4],
  [64, 128, 32, 3, 2, 1],
  [64, 128, 32, 1, 2, 1],
  [128, 128, 16, 3, 1, 3],
  [128, 256, 16, 3, 2, 1],
  [128, 256, 16, 1, 2, 1],
  [256, 256, 8, 3, 1, 3],
  [256, 512, 8, 3, 2, 1],
  [256, 512, 8, 1, 2, 1],
  [512, 512, 4, 3, 1, 3],
];

/** resnet18 with the ImageNet stem (7x7 stride 2, max-pool) on 32x32 inputs: tiny spatial sizes. */
const IMAGENET_SHAPES: Shape[] = [
  [3, 64, 32, 7, 2, 1],
  [64, 64, 8, 3, 1, 4],
  [64, 128, 8, 3, 2, 1],
  [64, 128, 8, 1, 2, 1],
  [128, 128, 4, 3, 1, 3],
  [128, 256, 4, 3, 2, 1],
  [128, 256, 4, 1, 2, 1],
  [256, 256, 2, 3, 1, 3],
  [256, 512, 2, 3, 2, 1],
  [256, 512, 2, 1, 2, 1],
  [512, 512, 1, 3, 1, 3],
];

const SHAPES = Deno.env.get("CONV_BENCH_STEM") === "imagenet" ? IMAGENET_SHAPES : CIFAR_SHAPES;

for (const [cin, cout, size, k, s, uses] of SHAPES) {
  const p = (k - 1) / 2;
  const g = conv2dGeometry([BATCH, cin, size, size], {
    outChannels: cout,
    kernelSize: [k, k],
    stride: [s, s],
    padding: [p, p],
    dilation: [1, 1],
    groups: 1,
  });
  const group = `conv ${cin}->${cout} ${k}x${k} s${s} ${size}x${size}`;
  const input = make("x", [BATCH, cin, size, size]);
  const weight = make("w", [cout, cin, k, k]);
  const output = make("y", [BATCH, cout, g.outHeight, g.outWidth]);
  const gradOutput = make("dy", [BATCH, cout, g.outHeight, g.outWidth]);
  const gradInput = make("dx", [BATCH, cin, size, size]);
  const gradWeight = make("dw", [cout, cin, k, k]);
  // The stem's input is the image: a training step computes no gradient for it.
  const dataUses = cin === 3 ? 0 : uses;
  const flops = 2 * BATCH * g.outHeight * g.outWidth * cout * cin * k * k;
  const tile = (kind: GemmKind) =>
    Object.values(gemmTiling(gpu, tuning, kind, gemmProblem(g, kind))).join("/");
  const passes = [
    [
      "forward",
      "forward",
      uses,
      (t: ConvTuning) => conv2dForward(gpu, g, { input, weight, output }, group, t),
    ],
    [
      "backwardData",
      "backward-data",
      dataUses,
      (t: ConvTuning) => conv2dBackwardData(gpu, g, { gradOutput, weight, gradInput }, group, t),
    ],
    [
      "backwardWeight",
      "backward-weight",
      uses,
      (t: ConvTuning) => conv2dBackwardWeight(gpu, g, { input, gradOutput, gradWeight }, group, t),
    ],
  ] as const;
  for (const [pass, name, passUses, dispatches] of passes) {
    if (denseApplies(g) || !winogradApplies(gpu, g)) {
      const dense = denseApplies(g) ? " dense" : "";
      bench(group, `${group} ${name}${dense} [${tile(pass)}]`, flops, dispatches(tuning), passUses);
      continue;
    }
    // Each algorithm forced through the library's own ops; the one the measurements pick is counted.
    const chosenTile = winogradTile(gpu, tuning, g, pass);
    sideBySide.push(`${group} ${name}`);
    for (const [algorithm, winograd] of ALGORITHMS) {
      const chosen = chosenTile === winograd;
      const label = winograd ? `winograd ${winograd}x${winograd}` : "direct";
      bench(
        group,
        `${group} ${name} ${label} [${tile(winograd ? "winograd" : pass)}]${chosen ? " (chosen)" : ""}`,
        flops,
        dispatches({ ...tuning, algorithm }),
        chosen ? passUses : 0,
      );
    }
  }
}

globalThis.addEventListener("unload", () => {
  const gflops = (name: string) => flopsOf.get(name)! / fastest.get(name)! / 1e6;
  console.log("\nGFLOP/s (best iteration):");
  for (const [name, ms] of fastest) {
    console.log(`${gflops(name).toFixed(2).padStart(8)}  ${ms.toFixed(2).padStart(9)} ms  ${name}`);
  }
  const matmuls = [...fastest.keys()].filter((name) => name.startsWith("matmul"));
  const best = matmuls.reduce((a, b) => (gflops(a) >= gflops(b) ? a : b), matmuls[0]);
  if (best) console.log(`best ${best}: ${gflops(best).toFixed(2)} GFLOP/s`);
  const timed = inStep.filter(({ name }) => fastest.has(name));
  if (best && timed.length === inStep.length) {
    const flops = timed.reduce((sum, { name, uses }) => sum + uses * flopsOf.get(name)!, 0);
    const ms = timed.reduce((sum, { name, uses }) => sum + uses * fastest.get(name)!, 0);
    const weighted = flops / ms / 1e6;
    console.log(
      `convolutions of a resnet18 training step (the kernels the library picks, weighted by FLOPs): ` +
        `${weighted.toFixed(2)} GFLOP/s, ${(100 * weighted / gflops(best)).toFixed(0)}% of the best matmul`,
    );
  }
  const figure = (prefix: string) => {
    const name = [...fastest.keys()].find((n) => n.startsWith(prefix));
    return name ? `${gflops(name).toFixed(2)}${name.endsWith("(chosen)") ? "*" : ""}` : "—";
  };
  console.log(
    "\n3x3 stride 1, GFLOP/s direct | winograd 2x2 | winograd 4x4 (effective, direct FLOPs); * = the " +
      "autotune's choice:",
  );
  for (const name of sideBySide) {
    const figures = ["direct", "winograd 2x2", "winograd 4x4"].map((a) => figure(`${name} ${a}`).padStart(7));
    console.log(`  ${name.padEnd(40)} ${figures.join(" | ")}`);
  }
});
