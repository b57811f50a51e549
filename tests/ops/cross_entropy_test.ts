import assert from "node:assert/strict";
import { submit, tensor } from "../../src/gpu/kernel.ts";
import { argmax, crossEntropy, PADDING_LABEL, STATS } from "../../src/ops/cross_entropy.ts";
import { crossEntropyReference } from "../reference/loss.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";

// f32 against float64: a log-sum-exp over at most 1000 terms loses a few ulps.
const TOLERANCE = 1e-5;

interface Case {
  batch: number;
  classes: number;
  ls: number;
  labels: number[];
  scale?: number;
}

async function runOnGpu(c: Case, logits: Float32Array, withGrad: boolean) {
  const gpu = await testGpu();
  const labels = new Uint32Array(c.labels);
  const logitsBuffer = gpu.upload("logits", logits);
  const labelsBuffer = gpu.upload("labels", labels);
  const gradBuffer = gpu.upload("grad logits", new Float32Array(logits.length).fill(123));
  const statsBuffer = gpu.upload("stats", new Float32Array([1, 2, 3, 4]));
  const dispatches = crossEntropy(gpu, { batch: c.batch, classes: c.classes, labelSmoothing: c.ls }, {
    logits: tensor(logitsBuffer, [c.batch, c.classes]),
    labels: tensor(labelsBuffer, [c.batch]),
    gradLogits: withGrad ? tensor(gradBuffer, [c.batch, c.classes]) : undefined,
    stats: tensor(statsBuffer, [4]),
  }, "test: loss");
  submit(gpu, dispatches);
  const grad = await gpu.readFloats(gradBuffer, 0, logits.length);
  const stats = await gpu.readFloats(statsBuffer, 0, 4);
  for (const b of [logitsBuffer, labelsBuffer, gradBuffer, statsBuffer]) gpu.release(b);
  return { grad, stats };
}

async function checkCase(c: Case, seed: number) {
  const logits = randomArray(c.batch * c.classes, seed, c.scale ?? 3);
  const expected = crossEntropyReference(logits, c.labels, c.batch, c.classes, c.ls);
  const { grad, stats } = await runOnGpu(c, logits, true);
  const what = `batch ${c.batch}, classes ${c.classes}, ls ${c.ls}`;
  assertClose(grad, expected.gradLogits, TOLERANCE, `${what}: gradient`);
  // The statistics were seeded with [1, 2, 3, 4]: the op adds to them.
  const lossSum = expected.loss * expected.count;
  assertClose([stats[STATS.lossSum] - 1], [lossSum], TOLERANCE, `${what}: loss sum`);
  assert.deepEqual(
    [stats[STATS.top1] - 2, stats[STATS.top5] - 3, stats[STATS.samples] - 4],
    [expected.top1, expected.top5, expected.count],
  );
}

Deno.test("cross-entropy matches the float64 reference: 10 classes, batch 5, no smoothing", async () => {
  await checkCase({ batch: 5, classes: 10, ls: 0, labels: [3, 0, 9, 9, 4] }, 1);
});

Deno.test("cross-entropy matches the float64 reference: 10 classes, batch 5, smoothing 0.1", async () => {
  await checkCase({ batch: 5, classes: 10, ls: 0.1, labels: [1, 7, 2, 0, 5] }, 2);
});

Deno.test("cross-entropy matches the float64 reference: 7 classes, batch 1, both smoothings", async () => {
  await checkCase({ batch: 1, classes: 7, ls: 0, labels: [6] }, 3);
  await checkCase({ batch: 1, classes: 7, ls: 0.1, labels: [2] }, 4);
});

Deno.test("cross-entropy: a padding sample adds nothing and the mean divides by the real samples", async () => {
  const c = { batch: 5, classes: 7, ls: 0.1, labels: [4, PADDING_LABEL, 0, 6, 1] };
  // checkCase compares with the reference, whose mean is over the 4 real samples.
  await checkCase(c, 5);
  const { grad } = await runOnGpu(c, randomArray(35, 5, 3), true);
  assert.ok(grad.subarray(7, 14).every((g) => g === 0), "the padding row's gradient is zero");
});

Deno.test("cross-entropy: a batch of padding only has a zero gradient and counts nothing", async () => {
  const c = { batch: 2, classes: 10, ls: 0, labels: [PADDING_LABEL, PADDING_LABEL] };
  const { grad, stats } = await runOnGpu(c, randomArray(20, 6), true);
  assert.ok(grad.every((g) => g === 0));
  assert.deepEqual([...stats], [1, 2, 3, 4]);
});

Deno.test("cross-entropy over 1000 classes uses a full workgroup and stays stable for large logits", async () => {
  await checkCase({ batch: 3, classes: 1000, ls: 0.1, labels: [999, 0, 517] }, 7);
  // Logits around 1e4 would overflow exp() without subtracting the maximum first.
  await checkCase({ batch: 2, classes: 10, ls: 0.1, labels: [2, 8], scale: 1e4 }, 8);
});

Deno.test("cross-entropy without gradLogits only accumulates statistics, run after run", async () => {
  const gpu = await testGpu();
  const c = { batch: 5, classes: 10, ls: 0, labels: [3, 0, 9, PADDING_LABEL, 4] };
  const logits = randomArray(50, 9, 3);
  const expected = crossEntropyReference(logits, c.labels, 5, 10, 0);
  const stats = gpu.buffer("stats", 16);
  const dispatches = crossEntropy(gpu, { batch: 5, classes: 10, labelSmoothing: 0 }, {
    logits: tensor(gpu.upload("logits", logits), [5, 10]),
    labels: tensor(gpu.upload("labels", new Uint32Array(c.labels)), [5]),
    stats: tensor(stats, [4]),
  }, "test: eval loss");
  submit(gpu, dispatches);
  submit(gpu, dispatches);
  const [lossSum, top1, top5, count] = await gpu.readFloats(stats, 0, 4);
  assertClose([lossSum], [2 * expected.loss * expected.count], TOLERANCE, "loss sum");
  assert.deepEqual([top1, top5, count], [2 * expected.top1, 2 * expected.top5, 8]);
});

Deno.test("top-1 and top-5 count ties in favour of the lower index, like arg-max", () => {
  const logits = [1, 5, 5, 0, 0, 0, 0, 0, 5, 5];
  // Ranks: label 1 first; 2 second (ties with 1); 9 fourth; 0 fifth; 3 sixth (four 5s and a 1 above it).
  const hits = [1, 2, 9, 0, 3].map((label) => crossEntropyReference(logits, [label], 1, 10, 0));
  assert.deepEqual(hits.map((r) => [r.top1, r.top5]), [[1, 1], [0, 1], [0, 1], [0, 1], [0, 0]]);
});

Deno.test("GPU top-k ranks tied logits the same way as the reference", async () => {
  const logits = new Float32Array([1, 5, 5, 0, 0, 0, 0, 0, 5, 5]);
  const labels = [1, 2, 9, 0, 3];
  const batch = labels.length;
  const rows = new Float32Array(batch * 10);
  for (let n = 0; n < batch; n++) rows.set(logits, n * 10);
  const { stats } = await runOnGpu({ batch, classes: 10, ls: 0, labels }, rows, false);
  assert.deepEqual([stats[STATS.top1] - 2, stats[STATS.top5] - 3], [1, 4]);
});

Deno.test("the reference gradient matches central finite differences of the reference loss", () => {
  for (const [classes, ls] of [[10, 0], [7, 0.1]]) {
    const labels = [1, PADDING_LABEL, classes - 1];
    const logits = Float64Array.from(randomArray(3 * classes, 10 + classes, 2));
    const { gradLogits } = crossEntropyReference(logits, labels, 3, classes, ls);
    const h = 1e-5;
    const numeric = logits.map((_, i) => {
      const plus = logits.slice(), minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      const f = (x: Float64Array) => crossEntropyReference(x, labels, 3, classes, ls).loss;
      return (f(plus) - f(minus)) / (2 * h);
    });
    assertClose(gradLogits, numeric, 1e-8, `classes ${classes}, ls ${ls}: finite differences`);
  }
});

Deno.test("argmax picks the largest logit, the lowest index on ties", async () => {
  const gpu = await testGpu();
  const classes = 300; // more classes than threads in a workgroup: exercises the tree reduction
  const logits = randomArray(3 * classes, 11);
  logits[0 * classes + 271] = 2;
  logits[1 * classes + 5] = 2;
  logits[1 * classes + 260] = 2;
  logits[2 * classes + 0] = 2;
  logits[2 * classes + 1] = 2;
  const predictions = gpu.buffer("predictions", 12);
  submit(
    gpu,
    argmax(gpu, { batch: 3, classes }, {
      logits: tensor(gpu.upload("logits", logits), [3, classes]),
      predictions: tensor(predictions, [3]),
    }, "test: argmax"),
  );
  assert.deepEqual([...new Uint32Array(await gpu.read(predictions, 0, 12))], [271, 5, 0]);
});

Deno.test("cross-entropy rejects mismatched shapes and smoothing outside [0, 1]", async () => {
  const gpu = await testGpu();
  const b = gpu.buffer("any", 256);
  const t = { logits: tensor(b, [2, 3]), labels: tensor(b, [2]), stats: tensor(b, [4]) };
  assert.throws(
    () => crossEntropy(gpu, { batch: 2, classes: 3, labelSmoothing: 1.5 }, t, "x"),
    /labelSmoothing/,
  );
  assert.throws(
    () => crossEntropy(gpu, { batch: 3, classes: 3, labelSmoothing: 0 }, t, "head"),
    /head: logits has 6 elements, expected 9/,
  );
});
