import "./.scratch_patch.ts";
import { Gpu } from "./src/gpu/device.ts";
import { imageDataset } from "./src/data/dataset.ts";
import { fit } from "./src/train/fit.ts";
import { resolveConfig } from "./src/train/run_config.ts";
const gpu = await Gpu.create();
function data(n: number, seed: number) {
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { labels[i] = i % 10; for (let j = 0; j < 3072; j++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; images[i*3072+j] = (s >>> 24) / 4 + labels[i] * 19; } }
  return imageDataset({ images, labels, channels: 3, height: 32, width: 32, classes: [..."abcdefghij"], mean: [0.5,0.5,0.5], std: [0.25,0.25,0.25] });
}
const out = await Deno.makeTempDir();
const t0 = performance.now();
const r = await fit(gpu, { out, config: resolveConfig({ epochs: 2, batchSize: 16, lr: 0.05 }), data: { train: data(64, 1), test: data(32, 2) }, progress: "plain", log: console.log });
console.log(r.status, r.message, (performance.now() - t0) / 1000, out);
