/**
 * The computation the browser test runs twice, in Deno and in headless Chromium, on the same fixed weights:
 * a resnet20's logits on a fixed input, a few SGD steps on generated data fed by the GPU batcher, and the
 * logits after them. Plain JavaScript, so that the page can import it as it is; `api` is the module
 * `web.ts` (in Deno) or its bundle `examples/web/dist/resnet.js` (in the page).
 *
 * @module
 */

/** Shapes are small: SwiftShader runs WebGPU on the CPU. */
export const SIZES = { batch: 4, side: 8, classes: 10, steps: 3, train: 16 };

/** Floats in [-1, 1) from an integer hash of each index, the same in every JavaScript engine. */
function fixedInput(api, count, seed) {
  const out = new Float32Array(count);
  const base = api.seed32(seed);
  for (let i = 0; i < count; i++) out[i] = (api.mix32((base + i) >>> 0) / 4294967296 - 0.5) * 2;
  return out;
}

/** FNV-1a over bytes, so that both sides can tell they generated the same training images. */
function checksum(bytes) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193) >>> 0;
  return hash;
}

/**
 * Runs the scenario on `gpu` (made by `api.Gpu.create()`) with the resnet20 weights of the safetensors file
 * `weights`, and returns plain arrays (so that they cross the DevTools protocol as they are).
 */
export async function scenario(api, gpu, weights) {
  const { batch, side, classes, steps, train } = SIZES;
  const shape = [3, side, side];
  const model = api.resnet20({ numClasses: classes });
  model.loadStateDict(api.decodeSafetensors(weights, "fixed.safetensors").tensors);
  const input = fixedInput(api, batch * 3 * side * side, 7);

  const before = await api.Inference.compile(gpu, model, { batchSize: batch, inputShape: shape });
  const logits = await before.run(input);

  const data = api.syntheticDataset({ seed: 3, size: side, train, test: classes, classes }).train;
  const batcher = api.GpuBatcher.create(gpu, data, {
    batchSize: batch,
    shuffle: true,
    augment: { padding: 1, flip: true },
    seed: 5,
    dropLast: true,
  });
  const training = await api.TrainingStep.compile(gpu, model, {
    batchSize: batch,
    inputShape: shape,
    optimizer: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
    input: { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches },
  });
  const losses = [], accuracies = [];
  for (let step = 0; step < steps; step++) {
    batcher.select(0, step % batcher.batchesPerEpoch);
    training.step();
    const stats = await training.readStats();
    losses.push(stats.loss);
    accuracies.push(stats.accuracy);
  }
  const trained = await training.inference(batch);
  const after = await trained.run(input);
  return {
    adapter: `${gpu.adapter.description}, ${gpu.adapter.vendor} ${gpu.adapter.architecture}`.trim(),
    dataChecksum: checksum(data.images),
    logits: [...logits],
    losses,
    accuracies,
    logitsAfter: [...after],
  };
}
