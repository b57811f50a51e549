/**
 * The soak of issue 13: `deno run -A tools/soak.ts [steps]` trains resnet20 for 10,000 steps (default) on
 * a small generated data set through `fit`, with a test evaluation, checkpoints (`last`, `best`), metrics
 * and the report after every epoch, and samples after each epoch the GPU bytes the module holds
 * (`Gpu.bytesAllocated`), the process's resident memory and its open file descriptors. Prints one JSON line
 * per sample to stdout and, at the end, the slopes after warm-up (least squares over the samples past the
 * first 10% of steps) per 1,000 steps. Outside CI: it runs for minutes.
 *
 * Environment: SOAK_SIZE (image side, default 16), SOAK_BATCH (default 8), SOAK_OUT (the run folder,
 * default a temporary folder, removed at the end).
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { syntheticDataset } from "../src/data/synthetic.ts";
import { fit } from "../src/train/fit.ts";
import { resolveConfig } from "../src/train/run_config.ts";

const steps = Number(Deno.args[0] ?? 10_000);
const size = Number(Deno.env.get("SOAK_SIZE") ?? 16);
const batch = Number(Deno.env.get("SOAK_BATCH") ?? 8);
const data = syntheticDataset({ seed: 1, size, train: 40 * batch, test: 4 * batch });
const stepsPerEpoch = Math.floor(data.train.count / batch);
const epochs = Math.ceil(steps / stepsPerEpoch);
const out = Deno.env.get("SOAK_OUT") ?? await Deno.makeTempDir({ prefix: "soak_" });
const gpu = await Gpu.create();

const openFiles = () => [...Deno.readDirSync("/proc/self/fd")].length;
const samples: Array<
  { step: number; gpuBytes: number; rssBytes: number; openFiles: number; seconds: number }
> = [];
const start = performance.now();
const result = await fit(gpu, {
  out,
  data,
  config: resolveConfig({ epochs, batchSize: batch, lr: 0.05, schedule: "cosine", seed: 1 }),
  progress: "none",
  log: () => {},
  onEpoch: (metrics) => {
    const sample = {
      step: metrics.step,
      gpuBytes: gpu.bytesAllocated,
      rssBytes: Deno.memoryUsage().rss,
      openFiles: openFiles(),
      seconds: (performance.now() - start) / 1000,
    };
    samples.push(sample);
    console.log(JSON.stringify(sample));
  },
});

/** Least-squares slope of `y` over `x`. */
function slope(x: number[], y: number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length, my = y.reduce((a, b) => a + b, 0) / y.length;
  const sxy = x.reduce((sum, xi, i) => sum + (xi - mx) * (y[i] - my), 0);
  const sxx = x.reduce((sum, xi) => sum + (xi - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const warm = samples.filter((s) => s.step > steps / 10);
const perThousand = (pick: (s: typeof samples[number]) => number) =>
  slope(warm.map((s) => s.step), warm.map(pick)) * 1000;
const first = warm[0], last = warm.at(-1)!;
console.log(JSON.stringify({
  status: result.status,
  steps: last.step,
  epochs: samples.length,
  seconds: last.seconds,
  adapter: gpu.adapter.description,
  gpuBytes: { first: first.gpuBytes, last: last.gpuBytes, slopePer1000Steps: perThousand((s) => s.gpuBytes) },
  rssBytes: { first: first.rssBytes, last: last.rssBytes, slopePer1000Steps: perThousand((s) => s.rssBytes) },
  openFiles: { first: first.openFiles, last: last.openFiles, max: Math.max(...warm.map((s) => s.openFiles)) },
}));
if (!Deno.env.get("SOAK_OUT")) await Deno.remove(out, { recursive: true });
