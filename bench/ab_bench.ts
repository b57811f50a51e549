/**
 * This tree against a baseline checkout, side by side in one process on one adapter:
 * `RESNET_BASELINE=../base deno bench -A --no-lock bench/ab_bench.ts`, with `../base` a git worktree of the
 * previous main (`git worktree add ../base main`). Without `RESNET_BASELINE` it prints this tree's dispatch
 * counts alone.
 *
 * Cases: training steps (forward, cross-entropy, backward, SGD with momentum and weight decay) of resnet18
 * with the ImageNet and the CIFAR stem and of resnet20, and inference of resnet18 (ImageNet stem) and
 * resnet50, on 32x32 inputs with 10 classes. Each tree compiles every case on a device of its own, with
 * the convolution tuning its own autotune measures (set `RESNET_AB_TUNE=0` for each library's default
 * instead): a tree's kernels and candidates go together. Tuned, this tree also compiles each case with its
 * default, what a user who never tunes gets, and the table gives that side's time against the tuned one.
 * The timings alternate between the sides (this, baseline, this untuned, this, ...) so that the machine's
 * load falls on all alike; each is one step enqueued and one wait, no readback. A Markdown table of
 * dispatches per step, median milliseconds and the ratios is printed at the end.
 *
 * Environment: `RESNET_AB_BATCH` (default 16), `RESNET_AB_ROUNDS` (timings per side and case each time
 * `Deno.bench` calls the case, default 3), `RESNET_AB_TUNE` (default 1).
 *
 * @module
 */

import * as selfApi from "../mod.ts";
import * as selfOps from "../ops.ts";
import { envInteger, figure, markdownTable, median } from "./_util.ts";

type Library = typeof selfApi & {
  submit: typeof selfOps.submit;
  tuneConvolutions: typeof selfOps.tuneConvolutions;
};
type Case = { name: string; model: (lib: Library) => selfApi.Module; mode: "train" | "inference" };

const BATCH = envInteger("RESNET_AB_BATCH", 16);
const ROUNDS = envInteger("RESNET_AB_ROUNDS", 3);
const TUNE = Deno.env.get("RESNET_AB_TUNE") !== "0";
const BASELINE = Deno.env.get("RESNET_BASELINE");

const CASES: Case[] = [
  { name: "resnet18 imagenet stem", model: (lib) => lib.resnet18({ numClasses: 10 }), mode: "train" },
  {
    name: "resnet18 cifar stem",
    model: (lib) => lib.resnet18({ numClasses: 10, stem: "cifar" }),
    mode: "train",
  },
  { name: "resnet20", model: (lib) => lib.resnet20(), mode: "train" },
  { name: "resnet18 imagenet stem", model: (lib) => lib.resnet18({ numClasses: 10 }), mode: "inference" },
  { name: "resnet50 imagenet stem", model: (lib) => lib.resnet50({ numClasses: 10 }), mode: "inference" },
];

interface Compiled {
  dispatches: number;
  run: () => void;
  gpu: selfApi.Gpu;
}

/** Compiles `c` with `lib`; `tuning` undefined: the library's own default, as a user who never tunes gets. */
async function compile(lib: Library, c: Case, tuning: selfOps.ConvTuning | undefined): Promise<Compiled> {
  const gpu = await lib.Gpu.create();
  const model = c.model(lib);
  const images = new Float32Array(BATCH * 3 * 32 * 32).map((_, i) => Math.sin(i));
  if (c.mode === "train") {
    const step = await lib.TrainingStep.compile(gpu, model, {
      batchSize: BATCH,
      optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
      tuning,
    });
    step.setBatch(images, new Uint32Array(BATCH).map((_, i) => i % 10));
    return { gpu, dispatches: step.dispatches.length, run: () => step.step() };
  }
  const inference = await lib.Inference.compile(gpu, model, { batchSize: BATCH, tuning });
  gpu.device.queue.writeBuffer(inference.images.buffer, 0, images);
  return { gpu, dispatches: inference.dispatches.length, run: () => lib.submit(gpu, inference.dispatches) };
}

async function time(compiled: Compiled): Promise<number> {
  const start = performance.now();
  compiled.run();
  await compiled.gpu.idle();
  return performance.now() - start;
}

/** The public API of the checkout at `root`, and its `submit`. */
async function library(root: string): Promise<Library> {
  const base = new URL(`${root.replace(/\/$/, "")}/`, `file://${Deno.cwd()}/`);
  const api = await import(new URL("mod.ts", base).href);
  const ops = await import(new URL("ops.ts", base).href);
  return { ...api, submit: ops.submit, tuneConvolutions: ops.tuneConvolutions };
}

/** `lib`'s own autotune, or its default. */
async function tuningOf(lib: Library): Promise<selfOps.ConvTuning | undefined> {
  return TUNE ? await lib.tuneConvolutions(await lib.Gpu.create()) : undefined;
}

const self: Library = {
  ...selfApi,
  submit: selfOps.submit,
  tuneConvolutions: selfOps.tuneConvolutions,
};
const baseline = BASELINE ? await library(BASELINE) : undefined;
const tunings = [await tuningOf(self), ...baseline ? [await tuningOf(baseline)] : []];
/**
 * Per case: both trees compiled, and this tree once more with its default tuning when the others are tuned
 * (what a user who never tunes gets), and every timing so far (Deno.bench may call a bench more than once).
 */
const measured = new Map<Case, { sides: Compiled[]; ms: number[][] }>();

for (const c of CASES) {
  Deno.bench({ name: `${c.name} ${c.mode}`, n: 1, warmup: 0 }, async () => {
    let entry = measured.get(c);
    if (!entry) {
      const sides = [
        await compile(self, c, tunings[0]),
        ...baseline ? [await compile(baseline, c, tunings[1])] : [],
        ...TUNE ? [await compile(self, c, undefined)] : [],
      ];
      for (const side of sides) await time(side); // first runs: pipelines compile
      entry = { sides, ms: sides.map(() => []) };
      measured.set(c, entry);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, side] of entry.sides.entries()) entry.ms[i].push(await time(side));
    }
  });
}

globalThis.addEventListener("unload", () => {
  const rows = [...measured].map(([c, { sides, ms }]) => {
    const [ours, theirs] = baseline ? sides : [sides[0], undefined];
    const [oursMs, theirsMs] = baseline ? ms.map(median) : [median(ms[0]), 0];
    const untunedMs = TUNE ? median(ms[ms.length - 1]) : undefined;
    return [
      `${c.name} ${c.mode}`,
      theirs ? `${theirs.dispatches} -> ${ours.dispatches}` : `${ours.dispatches}`,
      theirs ? `${figure(theirsMs)} -> ${figure(oursMs)}` : figure(oursMs),
      theirs ? `${figure(theirsMs / oursMs)}x` : "—",
      untunedMs ? `${figure(untunedMs)} (${figure(untunedMs / oursMs)}x)` : "—",
      `${ms[0].length}`,
    ];
  });
  console.log(`\nbatch ${BATCH}, timings alternating between the sides, ${TUNE ? "tuned" : "untuned"}`);
  console.log(markdownTable(
    [
      "case (32x32)",
      "dispatches per step (baseline -> this)",
      "ms (baseline -> this)",
      "speed-up",
      "this tree untuned: ms (x tuned)",
      "timings",
    ],
    rows,
  ));
});
