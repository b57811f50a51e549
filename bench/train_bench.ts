/**
 * Whole-model throughput: `deno bench -A bench/train_bench.ts`.
 *
 * Training steps (forward in train mode, cross-entropy, backward, SGD with momentum) of resnet18 with the
 * CIFAR and the ImageNet stem, resnet20 and resnet50 (ImageNet stem) on 32x32 inputs with 10 classes;
 * fine-tuning `fc` alone; eval-mode inference; and the same resnet18 written with TensorFlow.js on its
 * WebGPU backend ({@link ./tfjs_peer.ts}), measured in the same run on the same adapter, batch and input.
 *
 * Each case runs on a device of its own, so that its time to the first step includes every pipeline it
 * needs and its GPU bytes are its own; the convolution autotune runs once and its result is applied to
 * every device. One bench iteration enqueues `RESNET_BENCH_STEPS` steps and waits once, without a readback;
 * images/s come from the median over all iterations (`Deno.bench` adds a few runs of its own to `n`). A Markdown summary
 * (ours vs TensorFlow.js, ratio, first step, GPU memory, bytes allocated per step) is printed at the end.
 *
 * Environment:
 * - `RESNET_BENCH_BATCH`: images per step, default 8 (a resnet18 CIFAR-stem step takes seconds on a CPU
 *   driver); use 64 or 128 on a GPU.
 * - `RESNET_BENCH_ITERATIONS`: `n` of each bench, default 1 (3 timings in all).
 * - `RESNET_BENCH_STEPS`: steps enqueued per wait, default 1. Waiting costs about 11 ms in Deno, more than
 *   a whole step on a fast GPU; `fit` waits every 10 steps (`statsEvery`), so use 10 on a GPU.
 * - `RESNET_BENCH_MEMORY_BATCH`: the batch of the resnet18 CIFAR-stem memory figure, default 128 (compiled,
 *   not run).
 * - `RESNET_BENCH_PEER`: stems of the TensorFlow.js peer, default `imagenet`; `imagenet,cifar` adds the
 *   CIFAR stem (16 times the work), an empty value skips the peer.
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import type { Module } from "../src/nn/module.ts";
import { type ConvTuning, tuneConvolutions } from "../src/ops/conv2d.ts";
import { resnet18, resnet20, resnet50 } from "../src/models/resnet.ts";
import { Inference } from "../src/compile/inference.ts";
import { TrainingStep } from "../src/compile/training.ts";
import { randomArray } from "../tests/_gpu.ts";
import {
  type BenchCase,
  envInteger,
  envList,
  figure,
  forwardFlopsPerSample,
  imagesPerSecond,
  markdownTable,
  mebibytes,
  median,
  type Mode,
  timeSteps,
} from "./_util.ts";

const BATCH = envInteger("RESNET_BENCH_BATCH", 8);
const ITERATIONS = envInteger("RESNET_BENCH_ITERATIONS", 1);
const STEPS_PER_WAIT = envInteger("RESNET_BENCH_STEPS", 1);
const MEMORY_BATCH = envInteger("RESNET_BENCH_MEMORY_BATCH", 128);
const PEER_STEMS = envList("RESNET_BENCH_PEER", ["imagenet"]);
const INPUT_SHAPE = [3, 32, 32] as const;
const CLASSES = 10;
// No weight decay: TensorFlow.js's momentum optimizer has none, and both sides must do the same work.
const OPTIMIZER = { lr: 0.01, momentum: 0.9 };
// TensorFlow.js asks for the high-performance adapter; ours must run on the same one.
const POWER_PREFERENCE = "high-performance";

// The first is prepared first: its time to the first step is the coldest, as drivers may keep compiled
// shaders for later devices of the same process.
const MODELS: Record<string, () => Module> = {
  "resnet18 imagenet stem": () => resnet18({ numClasses: CLASSES, stem: "imagenet" }),
  "resnet18 cifar stem": () => resnet18({ numClasses: CLASSES, stem: "cifar" }),
  "resnet20": () => resnet20({ numClasses: CLASSES }),
  "resnet50 imagenet stem": () => resnet50({ numClasses: CLASSES, stem: "imagenet" }),
};

const images = randomArray(BATCH * INPUT_SHAPE.reduce((a, b) => a * b, 1), 1);
const labels = Uint32Array.from({ length: BATCH }, (_, i) => i % CLASSES);

const tuneGpu = await Gpu.create({ powerPreference: POWER_PREFERENCE });
const adapter = tuneGpu.adapter.description;
const tuneStart = performance.now();
const tuning: ConvTuning = await tuneConvolutions(tuneGpu);
const tuneMs = performance.now() - tuneStart;
tuneGpu.device.destroy();
console.log(`adapter: ${adapter}; batch ${BATCH}; convolution autotune ${(tuneMs / 1000).toFixed(1)} s`);

/** A device of its own for one case (each compiles with the autotune's result, `tuning`). */
async function freshGpu(): Promise<Gpu> {
  return await Gpu.create({ powerPreference: POWER_PREFERENCE });
}

/** A training case, with the activation storage its plan made. */
type TrainingCase = BenchCase & { activationBytes: number };

async function prepareTraining(model: string, mode: Mode): Promise<TrainingCase> {
  const gpu = await freshGpu();
  const network = MODELS[model]();
  if (mode === "fine-tune fc") network.freeze((name) => !name.startsWith("fc."));
  const start = performance.now();
  const training = await TrainingStep.compile(gpu, network, {
    batchSize: BATCH,
    inputShape: INPUT_SHAPE,
    optimizer: OPTIMIZER,
    tuning,
  });
  const compileMs = performance.now() - start;
  training.setBatch(images, labels);
  training.step();
  await gpu.idle();
  const forwardFlops = forwardFlopsPerSample(training.graph);
  return {
    model,
    mode,
    implementation: "ours",
    batch: BATCH,
    // Forward, backward-data and backward-weight: three GEMMs of the forward's size (the usual 3x).
    flopsPerStep: mode === "train" ? 3 * forwardFlops * BATCH : 0,
    firstStepMs: performance.now() - start,
    compileMs,
    totalBytes: gpu.bytesAllocated,
    activationBytes: training.activationBytes,
    dispatches: training.dispatches.length,
    run: () => training.step(),
    idle: () => gpu.idle(),
    bytesNow: () => gpu.bytesAllocated,
    samples: [],
    bytesPerStep: 0,
  };
}

async function prepareInference(model: string): Promise<BenchCase> {
  const gpu = await freshGpu();
  const start = performance.now();
  const inference = await Inference.compile(gpu, MODELS[model](), {
    batchSize: BATCH,
    inputShape: INPUT_SHAPE,
    tuning,
  });
  const compileMs = performance.now() - start;
  gpu.write(inference.images.buffer, images, inference.images.offset);
  submit(gpu, inference.dispatches);
  await gpu.idle();
  return {
    model,
    mode: "inference",
    implementation: "ours",
    batch: BATCH,
    flopsPerStep: forwardFlopsPerSample(inference.graph) * BATCH,
    firstStepMs: performance.now() - start,
    compileMs,
    totalBytes: gpu.bytesAllocated,
    dispatches: inference.dispatches.length,
    run: () => submit(gpu, inference.dispatches),
    idle: () => gpu.idle(),
    bytesNow: () => gpu.bytesAllocated,
    samples: [],
    bytesPerStep: 0,
  };
}

/** GPU bytes of a resnet18 (CIFAR stem) training step at `batch`, compiled but not run. */
async function trainingMemory(batch: number): Promise<{ total: number; activations: number }> {
  const gpu = await freshGpu();
  const training = await TrainingStep.compile(gpu, MODELS["resnet18 cifar stem"](), {
    batchSize: batch,
    inputShape: INPUT_SHAPE,
    optimizer: OPTIMIZER,
    tuning,
  });
  const memory = { total: gpu.bytesAllocated, activations: training.activationBytes };
  gpu.device.destroy();
  return memory;
}

/** The TensorFlow.js cases (training step and inference of one model per stem), or why there are none. */
async function preparePeer(): Promise<{ cases: BenchCase[]; version?: string; failure?: string }> {
  if (PEER_STEMS.length === 0) return { cases: [], failure: "skipped (RESNET_BENCH_PEER is empty)" };
  let peer: typeof import("./tfjs_peer.ts");
  let version: string;
  try {
    peer = await import("./tfjs_peer.ts");
    version = await peer.initTfjsWebGpu();
  } catch (error) {
    return { cases: [], failure: `TensorFlow.js WebGPU did not initialise: ${String(error)}` };
  }
  const cases: BenchCase[] = [];
  for (const stem of PEER_STEMS) {
    if (stem !== "imagenet" && stem !== "cifar") throw new Error(`RESNET_BENCH_PEER: unknown stem ${stem}`);
    const model = `resnet18 ${stem} stem`;
    const bytesBefore = peer.tfjsGpuBytes();
    const start = performance.now();
    const net = peer.TfjsResNet18.create({
      batchSize: BATCH,
      stem,
      numClasses: CLASSES,
      imageSize: INPUT_SHAPE[1],
      ...OPTIMIZER,
    });
    const compileMs = performance.now() - start;
    net.trainStep();
    await net.idle();
    const firstStepMs = performance.now() - start;
    const totalBytes = peer.tfjsGpuBytes() - bytesBefore;
    const inferStart = performance.now();
    net.infer();
    await net.idle();
    const firstInferenceMs = performance.now() - inferStart;
    const common = {
      model,
      implementation: "tfjs" as const,
      batch: BATCH,
      compileMs,
      totalBytes,
      idle: () => net.idle(),
      bytesNow: peer.tfjsGpuBytes,
      bytesPerStep: 0,
    };
    cases.push(
      { ...common, mode: "train", flopsPerStep: 0, firstStepMs, run: () => net.trainStep(), samples: [] },
      {
        ...common,
        mode: "inference",
        flopsPerStep: 0,
        firstStepMs: firstInferenceMs,
        run: () => net.infer(),
        samples: [],
      },
    );
  }
  return { cases, version };
}

const training: TrainingCase[] = [];
for (const model of Object.keys(MODELS)) {
  const prepared = await prepareTraining(model, "train");
  training.push(prepared);
  console.log(`prepared: ${model} training (first step ${(prepared.firstStepMs / 1000).toFixed(1)} s)`);
}
const cases: BenchCase[] = [...training, await prepareTraining("resnet18 imagenet stem", "fine-tune fc")];
for (const model of ["resnet18 imagenet stem", "resnet18 cifar stem"]) {
  cases.push(await prepareInference(model));
  console.log(`prepared: ${model} inference`);
}
const cifarTraining = training.find((c) => c.model === "resnet18 cifar stem")!;
const memory = MEMORY_BATCH === BATCH
  ? { total: cifarTraining.totalBytes, activations: cifarTraining.activationBytes }
  : await trainingMemory(MEMORY_BATCH);
const peer = await preparePeer();
console.log(peer.failure ?? `prepared: TensorFlow.js ${peer.version} peer`);

// FLOPs of the peer's steps are those of the same model on our side.
for (const c of peer.cases) {
  c.flopsPerStep = cases.find((o) => o.model === c.model && o.mode === c.mode)?.flopsPerStep ?? 0;
}
cases.push(...peer.cases);

for (const c of cases) {
  const isOursWhole = c.implementation === "ours" && c.mode !== "fine-tune fc";
  Deno.bench({
    // The model in the name too, so that `--filter` can pick it.
    name: `${c.implementation} ${c.mode}, ${c.model}`,
    group: `${c.mode === "inference" ? "inference" : "train"} ${c.model}, batch ${BATCH}`,
    baseline: isOursWhole,
    n: ITERATIONS,
    warmup: 0,
    // An async function: Deno.bench awaits only those, and would time a returned promise's creation.
    async fn() {
      await timeSteps(c, STEPS_PER_WAIT);
    },
  });
}

function find(model: string, mode: Mode, implementation: BenchCase["implementation"]): BenchCase | undefined {
  return cases.find((c) => c.model === model && c.mode === mode && c.implementation === implementation);
}

function summary(): string {
  const rows: string[][] = [];
  for (const c of cases.filter((c) => c.implementation === "ours")) {
    const tfjs = find(c.model, c.mode, "tfjs");
    const ours = imagesPerSecond(c);
    const theirs = tfjs ? imagesPerSecond(tfjs) : NaN;
    const gflops = (x: BenchCase | undefined) =>
      x && x.flopsPerStep > 0 ? figure(x.flopsPerStep / median(x.samples) / 1e6) : "—";
    const pair = (a: string, b: string | undefined) => tfjs ? `${a} / ${b}` : a;
    rows.push([
      c.model,
      c.mode,
      figure(ours),
      tfjs ? figure(theirs) : "—",
      tfjs ? `${figure(ours / theirs)}x` : "—",
      pair(gflops(c), gflops(tfjs)),
      pair(
        `${(c.firstStepMs / 1000).toFixed(1)} (${(c.compileMs / 1000).toFixed(1)})`,
        tfjs && (tfjs.firstStepMs / 1000).toFixed(1),
      ),
      // The peer's inference shares its training model's tensors, so its memory is counted once.
      pair(
        mebibytes(c.totalBytes),
        tfjs && (c.mode === "inference" ? "(shared)" : mebibytes(tfjs.totalBytes)),
      ),
      pair(String(c.bytesPerStep), tfjs && String(tfjs.bytesPerStep)),
      String(c.dispatches ?? "—"),
    ]);
  }
  const whole = find("resnet18 imagenet stem", "train", "ours")!;
  const head = find("resnet18 imagenet stem", "fine-tune fc", "ours")!;
  const lines = [
    `Training bench, ${new Date().toISOString()}`,
    `adapter: ${adapter}; Deno ${Deno.version.deno}; peer: ${
      peer.version ? `TensorFlow.js ${peer.version} (tfjs-backend-webgpu)` : peer.failure
    }`,
    `batch ${BATCH}, input 3x32x32, ${CLASSES} classes, SGD lr ${OPTIMIZER.lr} momentum ${OPTIMIZER.momentum}; ` +
    `images/s from the median of ${whole.samples.length} timings of ${STEPS_PER_WAIT} step(s) each ` +
    "(enqueue to GPU idle, no readback)",
    "",
    markdownTable(
      [
        "model (32x32)",
        "step",
        "ours img/s",
        "TF.js img/s",
        "ours / TF.js",
        "GFLOP/s (ours / TF.js)",
        "first step s, ours (compile) / TF.js",
        "GPU MiB (ours / TF.js)",
        "bytes allocated per step (ours / TF.js)",
        "dispatches per step",
      ],
      rows,
    ),
    "",
    `fine-tuning fc only (resnet18 imagenet stem): ${figure(imagesPerSecond(head))} img/s, ` +
    `${figure(imagesPerSecond(head) / imagesPerSecond(whole))}x the whole network's ${
      figure(imagesPerSecond(whole))
    } img/s`,
    `resnet18 cifar stem training at batch ${MEMORY_BATCH}: ${mebibytes(memory.total)} MiB on the GPU ` +
    `(${mebibytes(memory.activations)} MiB activations and scratch, ${
      mebibytes(memory.total - memory.activations)
    } MiB parameters, gradients, optimizer state, batch and uniforms)`,
    `convolution autotune: ${
      (tuneMs / 1000).toFixed(1)
    } s, once per adapter (its result can be kept and reused)`,
    "GFLOP/s: 2 per multiply-add of convolutions and linear layers; a training step counts 3x the forward.",
  ];
  return lines.join("\n");
}

globalThis.addEventListener("unload", () => {
  if (cases.some((c) => c.samples.length > 0)) console.log(`\n${summary()}`);
});
