import { Gpu } from "./src/gpu/device.ts";
import { imageDataset } from "./src/data/dataset.ts";
import { GpuBatcher } from "./src/data/gpu_batcher.ts";
import { TrainingStep } from "./src/train/training.ts";
import { Evaluator } from "./src/train/evaluate.ts";
import { buildModel } from "./src/train/run_config.ts";
const gpu = await Gpu.create();
function data(n: number, seed: number) {
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { labels[i] = i % 10; for (let j = 0; j < 3072; j++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; images[i*3072+j] = (s >>> 24) / 4 + labels[i] * 19; } }
  return imageDataset({ images, labels, channels: 3, height: 32, width: 32, classes: [..."abcdefghij"], mean: [0.5,0.5,0.5], std: [0.25,0.25,0.25] });
}
let t = performance.now();
const lap = (what: string) => { const n = performance.now(); console.log(what, ((n - t) / 1000).toFixed(2)); t = n; };
const model = buildModel("resnet20", { numClasses: 10, seed: 0 });
const batcher = GpuBatcher.create(gpu, data(64, 1), { batchSize: 16, shuffle: true, augment: true, seed: 0, dropLast: true });
const training = await TrainingStep.compile(gpu, model, { batchSize: 16, optimizer: { lr: 0.1, momentum: 0.9 }, input: { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches } });
lap("compile train");
const ev = await Evaluator.create(gpu, training.model, data(32, 2), { batchSize: 16 });
lap("compile eval");
for (let i = 0; i < 4; i++) { batcher.select(0, i); training.step(0.1); }
console.log(await training.readStats());
lap("4 steps (first)");
for (let i = 0; i < 4; i++) { batcher.select(1, i); training.step(0.1); }
console.log(await training.readStats());
lap("4 steps");
console.log((await ev.run()).top1);
lap("eval first");
console.log((await ev.run()).top1);
lap("eval");
await training.model.download();
lap("download");
