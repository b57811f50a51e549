import assert from "node:assert/strict";
import { cpuBatch } from "../../src/data/cpu_batch.ts";
import { resnet20 } from "../../src/models/resnet.ts";
import { evaluate, formatEvaluation, scoreLogits } from "../../src/train/evaluate.ts";
import { Inference } from "../../src/compile/inference.ts";
import { testGpu } from "../_gpu.ts";
import { perturbBatchNorm } from "./_models.ts";
import { tinyDataset } from "./_runs.ts";

Deno.test("scores from logits: loss, top-1, top-5, per-class accuracy and confusion", () => {
  const classes = ["a", "b", "c", "d", "e", "f"];
  const logits = new Float32Array([
    5,
    1,
    0,
    0,
    0,
    0, // label 0, predicted 0
    0,
    1,
    2,
    3,
    4,
    5, // label 0, predicted 5, label ranked 6th: a top-5 miss
    1,
    1,
    0,
    0,
    0,
    0, // label 1, tie: predicted 0 (the first), a top-5 hit
  ]);
  const result = scoreLogits(logits, [0, 0, 1], classes);
  const ce = (row: number[], label: number) =>
    Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label];
  const expected = (ce([5, 1, 0, 0, 0, 0], 0) + ce([0, 1, 2, 3, 4, 5], 0) + ce([1, 1, 0, 0, 0, 0], 1)) / 3;
  assert.ok(Math.abs(result.loss - expected) < 1e-12);
  assert.equal(result.top1, 1 / 3);
  assert.equal(result.top5, 2 / 3);
  assert.deepEqual(result.confusion[0], [1, 0, 0, 0, 0, 1]);
  assert.deepEqual(result.confusion[1], [1, 0, 0, 0, 0, 0]);
  assert.deepEqual(result.perClass.slice(0, 3), [
    { name: "a", samples: 2, accuracy: 0.5 },
    { name: "b", samples: 1, accuracy: 0 },
    { name: "c", samples: 0, accuracy: 0 },
  ]);
  const text = formatEvaluation(result);
  assert.match(text, /loss \d+\.\d{4} {2}top-1 33\.33% {2}top-5 66\.67% {2}\(3 images\)/);
  assert.match(text, /confusion matrix \(rows: true class, columns: predicted\)/);
  assert.throws(
    () => scoreLogits(new Float32Array(5), [0], classes),
    /5 logits do not hold 1 samples of 6 classes/,
  );
});

Deno.test("evaluating on the GPU scores what the network computes for the unaugmented images", async () => {
  const gpu = await testGpu();
  const model = perturbBatchNorm(resnet20({ seed: 0 }), 5);
  const dataset = tinyDataset(10, 3);
  // Batches of 4 leave a short last batch of 2: its padding must not be scored.
  const result = await evaluate(gpu, model, dataset, { batchSize: 4 });
  const { images } = cpuBatch(
    dataset,
    { batchSize: 10, shuffle: false, augment: false, seed: 0, dropLast: false },
    0,
    0,
  );
  const inference = await Inference.compile(gpu, model, { batchSize: 10 });
  const reference = scoreLogits(await inference.run(images), dataset.labels, dataset.classes);
  assert.equal(result.samples, 10);
  assert.ok(Math.abs(result.loss - reference.loss) < 1e-5 * Math.max(1, reference.loss));
  assert.deepEqual(result.confusion, reference.confusion);
  assert.equal(result.top5, reference.top5);
  await assert.rejects(
    evaluate(gpu, resnet20({ numClasses: 4 }), dataset, { batchSize: 4 }),
    /the model has 4 outputs but the data set has 10 classes/,
  );
});
