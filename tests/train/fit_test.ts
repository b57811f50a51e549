import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTrainingState } from "../../src/train/checkpoint.ts";
import { fit, type FitOptions } from "../../src/train/fit.ts";
import { resolveConfig } from "../../src/train/run_config.ts";
import { loadResnet20Fixture } from "../_fixtures.ts";
import { testGpu } from "../_gpu.ts";
import { Gpu } from "../../src/gpu/device.ts";
import { CLASSES, metricsOf, tensorsOf, tinyDataset } from "./_runs.ts";
import { loadImageFolder } from "../../src/data/image_folder_dataset.ts";
import { encodePng, gradientRgba } from "../data/_image_files.ts";

// ResNet-20 on 16 training images in batches of 8: two steps per epoch keep each run to a few seconds on
// a software adapter. The recipe exercises every part of the state: momentum with Nesterov, weight decay,
// label smoothing, warm-up and a cosine schedule.
const config = resolveConfig({
  epochs: 2,
  batchSize: 8,
  lr: 0.05,
  nesterov: true,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  schedule: "cosine",
  warmup: 1,
  seed: 7,
});
const data = { train: tinyDataset(16, 1), test: tinyDataset(8, 2) };

function options(out: string, extra: Partial<FitOptions> = {}): FitOptions {
  return { out, config, data, progress: "none", log: () => {}, statsEvery: 1, ...extra };
}

Deno.test("a run interrupted after epoch 1 of 2 and resumed equals the uninterrupted run", async () => {
  const gpu = await testGpu();
  const whole = await Deno.makeTempDir();
  const split = await Deno.makeTempDir();

  const uninterrupted = await fit(gpu, options(whole));
  assert.equal(uninterrupted.status, "completed");
  assert.equal(uninterrupted.history.length, 2);

  const stop = new AbortController();
  const first = await fit(gpu, options(split, { signal: stop.signal, onEpoch: () => stop.abort() }));
  assert.equal(first.status, "interrupted");
  assert.match(first.message, /stopped at epoch 2, batch 0 of 2/);
  const saved = await loadTrainingState(split);
  assert.deepEqual(saved.position, { epoch: 1, batch: 0 });
  assert.equal(saved.step, 2);

  const resumed = await fit(gpu, options(split, { config: resolveConfig({ epochs: 99 }), resume: true }));
  assert.equal(resumed.status, "completed", resumed.message);
  assert.equal(resumed.step, 4);

  for (const file of ["last.safetensors", "last.optimizer.safetensors", "best.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
  assert.deepEqual(resumed.best, uninterrupted.best);
  const report = await Deno.readTextFile(join(split, "report.html"));
  assert.match(report, /<svg[^>]*aria-label="confusion matrix"/);
  assert.match(report, /Epoch 2 of 2/);
});

Deno.test("an interrupt between two statistics reads resumes to the same metrics, digit for digit", async () => {
  const gpu = await testGpu();
  const more = { ...data, train: tinyDataset(32, 1) };
  // Four steps per epoch, statistics read after the third: an interrupt after the first step of epoch 2
  // falls between reads (reading there changed the last digits of its trainLoss).
  const run = (out: string, extra: Partial<FitOptions>) =>
    fit(gpu, options(out, { data: more, statsEvery: 3, ...extra }));
  const whole = await Deno.makeTempDir();
  assert.equal((await run(whole, {})).status, "completed");
  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  const first = await run(split, { signal: stop.signal, onStep: (step) => step === 5 && stop.abort() });
  assert.equal(first.status, "interrupted");
  assert.equal((await loadTrainingState(split)).partial?.pending?.length, 4);
  assert.equal((await run(split, { resume: true })).status, "completed");
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
});

Deno.test("a diverging run stops with a clear message and keeps the last good checkpoint", async () => {
  const gpu = await testGpu();
  const out = await Deno.makeTempDir();
  const stop = new AbortController();
  await fit(gpu, options(out, { signal: stop.signal, onEpoch: () => stop.abort() }));
  const good = await Deno.readFile(join(out, "last.safetensors"));
  // Resume the saved run with a learning rate that overflows the weights within a step or two.
  const state = await loadTrainingState(out);
  state.config.lr = 1e30;
  await Deno.writeTextFile(join(out, "last.json"), JSON.stringify(state));

  const result = await fit(gpu, options(out, { resume: true }));
  assert.equal(result.status, "diverged");
  assert.match(result.message, /loss became (NaN|Infinity|-Infinity)/);
  assert.match(result.message, /last good checkpoint, .*last\.safetensors, is from epoch 1/);
  assert.deepEqual(await Deno.readFile(join(out, "last.safetensors")), good);
  assert.equal((await loadTrainingState(out)).step, 2);
});

Deno.test("a new run refuses a folder that already holds one", async () => {
  const gpu = await testGpu();
  const out = await Deno.makeTempDir();
  await Deno.writeTextFile(join(out, "last.json"), "{}");
  await assert.rejects(fit(gpu, options(out)), /already holds a run .*resume it or choose another/);
  await assert.rejects(
    fit(gpu, options(await Deno.makeTempDir(), { resume: true })),
    /holds no checkpoint to resume/,
  );
});

Deno.test("a resumed run refuses data other than its own, named by size and fingerprint", async () => {
  const gpu = await testGpu();
  const out = await Deno.makeTempDir();
  const stop = new AbortController();
  await fit(gpu, options(out, { signal: stop.signal, onEpoch: () => stop.abort() }));
  const saved = await loadTrainingState(out);
  assert.equal(saved.data?.count, 16);
  assert.match(saved.data?.fingerprint ?? "", /^[0-9a-f]{64}$/);
  const other = tinyDataset(16, 1);
  other.images[0] ^= 1;
  await assert.rejects(
    fit(gpu, options(out, { resume: true, data: { ...data, train: other } })),
    /trained on other data: its training set had 16 images \(fingerprint [0-9a-f]{12}\), this one has 16/,
  );
});

Deno.test("fine-tuning a PyTorch checkpoint with the backbone frozen trains only fc", async () => {
  const gpu = await testGpu();
  const out = await Deno.makeTempDir();
  const pth = fileURLToPath((await loadResnet20Fixture()).pth);
  const logged: string[] = [];
  const tuned = resolveConfig({ ...config, epochs: 1, warmup: 0, pretrained: pth, freeze: "backbone" });
  const result = await fit(gpu, options(out, { config: tuned, log: (line) => logged.push(line) }));
  assert.equal(result.status, "completed", result.message);
  assert.match(logged.join("\n"), /loaded 1\d\d tensors from .*resnet20\.pth/);
  assert.match(logged.join("\n"), /frozen: \d+ parameter tensors \(backbone\)/);
  const before = await tensorsOf(pth.replace(/\.pth$/, ".safetensors"));
  const after = await tensorsOf(join(out, "last.safetensors"));
  for (const [name, values] of after) {
    // BatchNorm's running statistics still follow the batches, as in PyTorch's train mode.
    if (/running_|num_batches_tracked/.test(name)) continue;
    const changed = values.some((v, i) => v !== before.get(name)![i]);
    assert.equal(changed, name.startsWith("fc."), `${name} ${changed ? "changed" : "did not change"}`);
  }
});

Deno.test("a stop request in an epoch's last step saves before the evaluation and resumes to the same metrics", async () => {
  const gpu = await testGpu();
  const whole = await Deno.makeTempDir();
  assert.equal((await fit(gpu, options(whole))).status, "completed");
  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  let evaluated = 0;
  const first = await fit(
    gpu,
    options(split, {
      signal: stop.signal,
      onStep: (step) => step === 4 && stop.abort(),
      onEpoch: () => evaluated++,
    }),
  );
  assert.equal(first.status, "interrupted");
  assert.match(first.message, /stopped at epoch 2, batch 2 of 2/);
  assert.equal(evaluated, 1, "epoch 2 was not evaluated");
  assert.deepEqual((await loadTrainingState(split)).position, { epoch: 1, batch: 2 });
  assert.equal((await fit(gpu, options(split, { resume: true }))).status, "completed");
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
  for (const file of ["last.safetensors", "last.optimizer.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
});

Deno.test("a run on 32x32 images resized to 40 trains with RandomResizedCrop, resumes exactly and records the size", async () => {
  const gpu = await testGpu();
  const upscaled = resolveConfig({ ...config, imageSize: 40, augment: "randomresizedcrop,flip,cutout:8" });
  const logged: string[] = [];
  const whole = await Deno.makeTempDir();
  const result = await fit(gpu, options(whole, { config: upscaled, log: (line) => logged.push(line) }));
  assert.equal(result.status, "completed", result.message);
  assert.ok(logged.includes("augmentation: randomresizedcrop,flip,cutout:8 (32x32 images to 40x40)"));
  const saved = await loadTrainingState(whole);
  assert.deepEqual(saved.info.inputShape, [3, 40, 40]);
  assert.equal(saved.config.augment, "randomresizedcrop,flip,cutout:8");
  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  const first = await fit(
    gpu,
    options(split, { config: upscaled, signal: stop.signal, onStep: () => stop.abort() }),
  );
  assert.equal(first.status, "interrupted");
  assert.equal((await fit(gpu, options(split, { config: upscaled, resume: true }))).status, "completed");
  assert.deepEqual(
    await tensorsOf(join(split, "last.safetensors")),
    await tensorsOf(join(whole, "last.safetensors")),
  );
  await assert.rejects(
    fit(
      gpu,
      options(await Deno.makeTempDir(), {
        config: resolveConfig({ ...config, imageSize: 40, augment: "crop" }),
      }),
    ),
    /augmentation "crop": a random crop of 40x40 does not fit the data set's 32x32 images padded by 0/,
  );
});

Deno.test("a run on an image folder (RandomResizedCrop of the stored working images) resumes exactly", async () => {
  const gpu = await testGpu();
  const root = await Deno.makeTempDir({ prefix: "fit_folder_" });
  for (let i = 0; i < 20; i++) {
    const [width, height] = [60 + 7 * i, 90 - 2 * i];
    const folder = join(root, i < 16 ? "train" : "val", CLASSES[i % 2]);
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeFile(join(folder, `${i}.png`), encodePng(width, height, gradientRgba(width, height)));
  }
  const photos = await loadImageFolder(root, { size: 64, cache: false });
  // Working images keep their aspect ratio: portrait and landscape, shorter side 73, up to 97 long.
  assert.deepEqual([photos.train.height, photos.test.height], [97, 64]);
  const sizes = [...photos.train.sizes!];
  const shapes = new Set(
    sizes.flatMap((side, i) => i % 2 ? [] : [side < sizes[i + 1] ? "portrait" : "landscape"]),
  );
  assert.deepEqual([...shapes].sort(), ["landscape", "portrait"]);
  assert.equal(Math.max(...sizes), 97);
  const folderConfig = resolveConfig({ ...config, epochs: 2 });
  const run = (out: string, extra: Partial<FitOptions>) =>
    fit(gpu, options(out, { config: folderConfig, data: photos, ...extra }));
  const whole = await Deno.makeTempDir();
  assert.equal((await run(whole, {})).status, "completed");
  assert.equal((await loadTrainingState(whole)).config.augment, "randomresizedcrop,flip");
  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  assert.equal(
    (await run(split, { signal: stop.signal, onStep: (s) => s === 3 && stop.abort() })).status,
    "interrupted",
  );
  assert.equal((await run(split, { resume: true })).status, "completed");
  for (const file of ["last.safetensors", "last.optimizer.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("a stop request during the evaluation ends it within a batch, saves, and resumes to the same metrics", async () => {
  const gpu = await testGpu();
  const twoBatches = { ...data, test: tinyDataset(16, 2) };
  const whole = await Deno.makeTempDir();
  assert.equal((await fit(gpu, options(whole, { data: twoBatches }))).status, "completed");
  // fit reads `aborted` before each step, once before the evaluation and, during it, before each batch:
  // epoch 1 reads it 5 times and epoch 2 4 times before its evaluation's second batch, the tenth read.
  let reads = 0;
  const signal = {
    get aborted() {
      return ++reads >= 10;
    },
  } as AbortSignal;
  const split = await Deno.makeTempDir();
  let evaluated = 0;
  const first = await fit(gpu, options(split, { data: twoBatches, signal, onEpoch: () => evaluated++ }));
  assert.equal(first.status, "interrupted");
  assert.equal(reads, 10);
  assert.equal(evaluated, 1, "epoch 2's evaluation was stopped");
  assert.match(first.message, /stopped at epoch 2, batch 2 of 2/);
  assert.deepEqual((await loadTrainingState(split)).position, { epoch: 1, batch: 2 });
  assert.equal((await fit(gpu, options(split, { data: twoBatches, resume: true }))).status, "completed");
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
  for (const file of ["last.safetensors", "last.optimizer.safetensors", "best.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
});

Deno.test("a GPU device lost during training says so and leaves the last checkpoint intact", async () => {
  const gpu = await Gpu.create();
  const out = await Deno.makeTempDir();
  const threeEpochs = resolveConfig({ ...config, epochs: 3 });
  await assert.rejects(
    fit(gpu, options(out, { config: threeEpochs, onStep: (step) => step === 5 && gpu.device.destroy() })),
    /the GPU device was lost \(destroyed.*\) during epoch 3, step [56]; the last good checkpoint, .*last\.safetensors, is from epoch 2 and intact/,
  );
  assert.deepEqual((await loadTrainingState(out)).position, { epoch: 2, batch: 0 });
  assert.equal(
    (await fit(await testGpu(), options(out, { config: threeEpochs, resume: true }))).status,
    "completed",
  );
});
