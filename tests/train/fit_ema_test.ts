import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { checkpointPaths } from "../../src/train/checkpoint.ts";
import { fit, type FitOptions } from "../../src/train/fit.ts";
import { ConfigError, resolveConfig } from "../../src/train/run_config.ts";
import { testGpu } from "../_gpu.ts";
import { metricsOf, tensorsOf, tinyDataset } from "./_runs.ts";

// ResNet-20 on 32 training images in batches of 8 (four steps per epoch), as tests/train/fit_test.ts, with
// a weight EMA: the average and its update count must be saved for a resumed run to be exact.
const config = resolveConfig({ epochs: 2, batchSize: 8, lr: 0.05, schedule: "cosine", seed: 5, ema: 0.6 });
const data = { train: tinyDataset(32, 1), test: tinyDataset(8, 2) };

function options(out: string, extra: Partial<FitOptions> = {}): FitOptions {
  return { out, config, data, progress: "none", log: () => {}, statsEvery: 1, ...extra };
}

Deno.test("a run with --ema evaluates and saves the average, and resumes mid-epoch to the same files", async () => {
  const gpu = await testGpu();
  const whole = await Deno.makeTempDir();
  const result = await fit(gpu, options(whole));
  assert.equal(result.status, "completed");
  const metrics = await metricsOf(join(whole, "metrics.jsonl"));
  for (const m of metrics) {
    assert.ok(m.emaTestAccuracy! >= 0 && m.emaTestAccuracy! <= 1, "EMA accuracy in every epoch");
    assert.ok(Number.isFinite(m.emaTestLoss) && Number.isFinite(m.emaTestTop5));
  }
  const averaged = await loadSafetensors(checkpointPaths(whole, "last").ema);
  assert.equal(averaged.metadata.n_averaged, "8");
  assert.equal(averaged.metadata.ema_decay, "0.6");
  assert.equal(averaged.metadata.model, "resnet20", "loadable as the weights are");
  const raw = await tensorsOf(checkpointPaths(whole, "last").weights);
  const ema = await tensorsOf(checkpointPaths(whole, "last").ema);
  assert.deepEqual([...ema.keys()], [...raw.keys()], "the same state_dict keys");
  assert.notDeepEqual(ema.get("fc.weight"), raw.get("fc.weight"));
  assert.notDeepEqual(ema.get("bn1.running_mean"), raw.get("bn1.running_mean"), "statistics averaged");
  assert.deepEqual(ema.get("bn1.num_batches_tracked"), raw.get("bn1.num_batches_tracked"));
  assert.match(await Deno.readTextFile(join(whole, "report.html")), /EMA test acc/);

  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  const first = await fit(
    gpu,
    options(split, { signal: stop.signal, onStep: (step) => step === 6 && stop.abort() }),
  );
  assert.equal(first.status, "interrupted");
  assert.equal((await loadSafetensors(checkpointPaths(split, "last").ema)).metadata.n_averaged, "6");
  assert.equal((await fit(gpu, options(split, { resume: true }))).status, "completed");
  for (const file of ["last.safetensors", "last.ema.safetensors", "best.ema.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
  assert.deepEqual(await metricsOf(join(split, "metrics.jsonl")), metrics);
});

Deno.test("a run config refuses an EMA decay outside (0, 1)", () => {
  for (const ema of [0, 1, -0.5, Number.NaN]) {
    assert.throws(() => resolveConfig({ ema }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, "ema");
      assert.match(error.message, /ema must be a decay in \(0, 1\), e\.g\. 0\.999/);
      return true;
    });
  }
});
