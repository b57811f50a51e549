/**
 * The input pipeline against the training step it feeds, at 224 pixels: `deno bench -A --no-lock
 * bench/loader_bench.ts`.
 *
 * 128 decoded images as `loadImageFolder` keeps them for 224 (a shorter side of 256, 4:3 photos, landscape
 * and portrait in turn, in slots of 3 x 256 x 341 bytes) make batches of 32 with torchvision's
 * `RandomResizedCrop(224)` + `RandomHorizontalFlip` on the GPU:
 * kept on the GPU, and streamed from a stored decoded-cache file (the path of a data set over the
 * resident bound). The resnet18 training step (ImageNet stem, 10 classes) runs with the loader's
 * dispatches in front, as `fit` runs it, and with a fixed input, so that the difference is what the
 * loader costs a step. The convolution tuning `train` cached for this adapter is used if there is one.
 * A summary is printed at the end.
 *
 * @module
 */

import { join } from "node:path";
import { GpuBatcher } from "../src/data/gpu_batcher.ts";
import { imageDataset } from "../src/data/dataset.ts";
import { parseAugment } from "../src/data/augment_spec.ts";
import { fileImages } from "../src/data/stored_images.ts";
import { Gpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { defaultCacheDir } from "../src/io/cache.ts";
import { resnet18 } from "../src/models/resnet.ts";
import { TrainingStep } from "../src/compile/training.ts";
import { cachedConvTuning } from "../src/train/tuning.ts";
import { markdownTable } from "./_util.ts";

const COUNT = 128, WORKING = 256, LONGEST = 341, SIZE = 224, BATCH = 32, CLASSES = 10;
const bytes = new Uint8Array(COUNT * 3 * WORKING * LONGEST);
for (let i = 0, state = 1; i < bytes.length; i++) {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  bytes[i] = state >>> 24;
}
const dir = await Deno.makeTempDir({ prefix: "loader_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const file = join(dir, "decoded.bin");
await Deno.writeFile(file, bytes);
const split = {
  labels: Uint8Array.from({ length: COUNT }, (_, i) => i % CLASSES),
  channels: 3,
  height: LONGEST,
  width: LONGEST,
  sizes: Uint16Array.from(
    { length: 2 * COUNT },
    (_, i) => (i % 2 === 0) === ((i >> 1) % 2 === 0) ? LONGEST : WORKING,
  ),
  slotBytes: 3 * WORKING * LONGEST,
  classes: Array.from({ length: CLASSES }, (_, i) => `class ${i}`),
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
const inMemory = imageDataset({ ...split, images: bytes });
const stored = imageDataset({
  ...split,
  images: fileImages(file, { length: bytes.length, fingerprint: "bench" }),
});

const gpu = await Gpu.create();
const tuning = await cachedConvTuning(gpu, defaultCacheDir());
const options = {
  batchSize: BATCH,
  shuffle: true,
  augment: parseAugment("randomresizedcrop,flip", { size: SIZE }),
  seed: 0,
  dropLast: true,
  size: SIZE,
};
const resident = GpuBatcher.create(gpu, inMemory, options);
const streamed = GpuBatcher.create(gpu, stored, options, { maxResidentBytes: 0 });
const model = () => resnet18({ numClasses: CLASSES, stem: "imagenet" });
const compile = (batcher?: GpuBatcher) =>
  TrainingStep.compile(gpu, model(), {
    batchSize: BATCH,
    inputShape: [3, SIZE, SIZE],
    optimizer: { lr: 0.01, momentum: 0.9 },
    tuning,
    input: batcher && { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches },
  });
const fed = await compile(resident);
const fixed = await compile();
const times = new Map<string, number[]>();

function timed(name: string, n: number, body: () => Promise<void>): void {
  let step = 0;
  Deno.bench(name, { group: "224 pixels, batch 32", n, warmup: 1 }, async (b) => {
    b.start();
    const start = performance.now();
    await body();
    b.end();
    if (step++ > 0) times.set(name, [...times.get(name) ?? [], performance.now() - start]);
  });
}

let batch = 0;
const next = () => batch++ % resident.batchesPerEpoch;
const LOADER = "loader: RandomResizedCrop + flip of 32 images kept on the GPU";
const STREAMED = "loader: the same, streamed from a stored decoded-cache file";
const FED = "resnet18 training step fed by the loader (as fit runs it)";
const FIXED = "resnet18 training step on a fixed input";
timed(LOADER, 10, async () => {
  resident.select(0, next());
  submit(gpu, resident.dispatches);
  await gpu.idle();
});
timed(STREAMED, 10, async () => {
  streamed.select(0, next());
  submit(gpu, streamed.dispatches);
  await gpu.idle();
});
timed(FED, 3, async () => {
  resident.select(0, next());
  fed.step();
  await gpu.idle();
});
timed(FIXED, 3, async () => {
  fixed.step();
  await gpu.idle();
});

globalThis.addEventListener("unload", () => {
  const median = (name: string) => {
    const values = [...times.get(name) ?? []].sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)];
  };
  const rows = [LOADER, STREAMED, FED, FIXED].filter((name) => times.has(name)).map((name) => {
    const ms = median(name);
    return [name, ms.toFixed(1), (BATCH / ms * 1000).toFixed(1)];
  });
  console.log(`\nAdapter: ${gpu.adapter.description}; tuning: ${tuning.adapterKey ? "cached" : "untuned"}`);
  console.log(markdownTable(["Case", "ms per batch", "images/s"], rows));
  if (times.has(FED) && times.has(FIXED) && times.has(LOADER)) {
    console.log(
      `The loader takes ${
        (median(LOADER) / median(FIXED) * 100).toFixed(1)
      }% of a step's time; the fed step ` +
        `is ${(median(FED) / median(FIXED)).toFixed(3)}x the fixed one.`,
    );
  }
  for (const batcher of [resident, streamed]) batcher.destroy();
});
