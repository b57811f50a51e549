import assert from "node:assert/strict";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { join } from "node:path";
import { checkpointPaths, loadTrainingState } from "../../src/train/checkpoint.ts";
import { fit, type FitOptions } from "../../src/train/fit.ts";
import { ConfigError, resolveConfig } from "../../src/train/run_config.ts";
import { testGpu } from "../_gpu.ts";
import { metricsOf, tensorsOf, tinyDataset } from "./_runs.ts";

// ResNet-20 on 16 training images in batches of 8, as tests/train/fit_test.ts, with AdamW and AMSGrad-free
// moments: the optimizer file must carry exp_avg, exp_avg_sq and the step for the resumed run to be exact.
const config = resolveConfig({
  optimizer: "adamw",
  epochs: 2,
  batchSize: 8,
  lr: 1e-3,
  weightDecay: 0.05,
  betas: [0.8, 0.99],
  eps: 1e-6,
  schedule: "cosine",
  seed: 3,
});
const data = { train: tinyDataset(16, 1), test: tinyDataset(8, 2) };

function options(out: string, extra: Partial<FitOptions> = {}): FitOptions {
  return { out, config, data, progress: "none", log: () => {}, statsEvery: 1, ...extra };
}

Deno.test("an adamw run interrupted after epoch 1 of 2 and resumed equals the uninterrupted run", async () => {
  const gpu = await testGpu();
  const whole = await Deno.makeTempDir();
  const split = await Deno.makeTempDir();
  assert.equal((await fit(gpu, options(whole))).status, "completed");

  const stop = new AbortController();
  const first = await fit(gpu, options(split, { signal: stop.signal, onEpoch: () => stop.abort() }));
  assert.equal(first.status, "interrupted");
  assert.equal((await loadTrainingState(split)).step, 2);
  const saved = await loadSafetensors(checkpointPaths(split, "last").optimizer);
  assert.equal(saved.metadata.optimizer, "adamw");
  assert.deepEqual(saved.tensors.get("fc.bias.exp_avg")?.shape, [10]);
  assert.ok(saved.tensors.has("conv1.weight.exp_avg_sq"));
  assert.deepEqual(JSON.parse(saved.metadata.param_groups)[0].betas, [0.8, 0.99]);

  const resumed = await fit(gpu, options(split, { resume: true }));
  assert.equal(resumed.status, "completed", resumed.message);
  assert.equal(resumed.step, 4);
  for (const file of ["last.safetensors", "last.optimizer.safetensors", "best.safetensors"]) {
    assert.deepEqual(await tensorsOf(join(split, file)), await tensorsOf(join(whole, file)), file);
  }
  assert.deepEqual(
    await metricsOf(join(split, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
});

Deno.test("a run config refuses optimizer settings that do not apply or are out of range", () => {
  const cases: Array<[Parameters<typeof resolveConfig>[0], string, RegExp]> = [
    [
      { optimizer: "adam", nesterov: true },
      "nesterov",
      /nesterov is SGD's momentum and does not apply to adam/,
    ],
    [
      { optimizer: "rmsprop" as never },
      "optimizer",
      /optimizer must be one of sgd, adam, adamw; got rmsprop/,
    ],
    [
      { optimizer: "adam", betas: [1, 0.999] },
      "betas",
      /betas must be two numbers in \[0, 1\), got 1, 0.999/,
    ],
    [{ optimizer: "adamw", betas: [0.9, -0.1] }, "betas", /betas must be two numbers in \[0, 1\)/],
    [{ optimizer: "adam", eps: 0 }, "eps", /eps must be positive, got 0/],
    [{ optimizer: "adam", lr: -1e-3 }, "lr", /lr must be positive, got -0.001/],
    [{ betas: [0.9, 0.99] }, "betas", /betas apply to adam and adamw only, not sgd/],
    [{ eps: 1e-8 }, "eps", /eps applies to adam and adamw only, not sgd/],
  ];
  for (const [given, field, message] of cases) {
    assert.throws(() => resolveConfig(given), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, field);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.equal(resolveConfig().optimizer, undefined, "sgd unless chosen, so old configs read the same");
  assert.equal(resolveConfig({ optimizer: "adam", momentum: 0.9 }).optimizer, "adam");
  assert.equal(resolveConfig({ optimizer: "adamw" }).weightDecay, 0.01, "torch.optim.AdamW's default");
  assert.equal(resolveConfig({ optimizer: "adamw", weightDecay: 0 }).weightDecay, 0);
  assert.equal(resolveConfig({ optimizer: "adam" }).weightDecay, 1e-4, "the recipe's, an L2 penalty");
});
