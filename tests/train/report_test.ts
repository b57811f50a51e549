import assert from "node:assert/strict";
import { join } from "node:path";
import type { EpochMetrics } from "../../src/train/checkpoint.ts";
import { scoreLogits } from "../../src/train/evaluate.ts";
import { renderReport, writeReport } from "../../src/train/report.ts";

const epoch = (n: number, accuracy: number): EpochMetrics => ({
  epoch: n,
  step: n * 10,
  lr: 0.1 / n,
  trainLoss: 2 / n,
  trainAccuracy: accuracy - 0.05,
  testLoss: 2.2 / n,
  testAccuracy: accuracy,
  testTop5: 0.9,
  seconds: 12.5,
  imagesPerSecond: 400,
});

Deno.test("the report is one self-contained HTML file with curves, confusion matrix and per-class accuracy", async () => {
  const evaluation = scoreLogits(new Float32Array([3, 1, 0, 2]), [0, 1], ["cat <1>", "dog"]);
  const html = renderReport({
    title: "resnet20 on cifar10",
    history: [epoch(1, 0.4), epoch(2, 0.6), epoch(3, 0.5)],
    evaluation,
    epochs: 10,
    settings: { lr: 0.1, model: "resnet20" },
  });
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  for (const label of ["loss", "accuracy", "learning rate", "confusion matrix"]) {
    assert.match(html, new RegExp(`aria-label="${label}"`));
  }
  assert.match(html, /Epoch 3 of 10: test accuracy 50\.00% .* best 60\.00% at epoch 2/);
  assert.match(html, /cat &lt;1&gt; predicted as dog: 0/);
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), "no scripts and no network");

  const path = join(await Deno.makeTempDir(), "report.html");
  await writeReport(path, { title: "empty", history: [] });
  assert.match(await Deno.readTextFile(path), /No epoch has finished yet/);
});
