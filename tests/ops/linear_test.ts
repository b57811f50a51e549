import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { numel, submit, type Tensor, tensor } from "../../src/gpu/kernel.ts";
import { linearBackward, linearForward, type LinearSizes } from "../../src/ops/linear.ts";
import { linearBackwardReference, linearForwardReference } from "../reference/linear.ts";
import { assertClose, centralDifferences, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;

function upload(gpu: Gpu, label: string, data: Float32Array, shape: number[]): Tensor {
  return tensor(gpu.upload(label, data), shape);
}

function fresh(gpu: Gpu, label: string, shape: number[]): Tensor {
  return tensor(gpu.buffer(label, numel(shape) * 4), shape);
}

async function read(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  return await gpu.readFloats(t.buffer, t.offset / 4, numel(t.shape));
}

const CASES: Array<{ sizes: LinearSizes; bias: boolean }> = [
  { sizes: { batch: 1, inFeatures: 5, outFeatures: 6 }, bias: true },
  { sizes: { batch: 3, inFeatures: 37, outFeatures: 10 }, bias: false },
  { sizes: { batch: 70, inFeatures: 64, outFeatures: 10 }, bias: true },
  { sizes: { batch: 5, inFeatures: 130, outFeatures: 67 }, bias: true },
];

for (const [index, c] of CASES.entries()) {
  const s = c.sizes;
  Deno.test(`linear: batch ${s.batch}, ${s.inFeatures} -> ${s.outFeatures}${c.bias ? " with bias" : ""}`, async () => {
    const gpu = await testGpu();
    const x = randomArray(s.batch * s.inFeatures, 10 * index);
    const w = randomArray(s.outFeatures * s.inFeatures, 10 * index + 1);
    const b = c.bias ? randomArray(s.outFeatures, 10 * index + 2) : undefined;
    const dy = randomArray(s.batch * s.outFeatures, 10 * index + 3);
    const input = upload(gpu, "input", x, [s.batch, s.inFeatures]);
    const weight = upload(gpu, "weight", w, [s.outFeatures, s.inFeatures]);
    const bias = b ? upload(gpu, "bias", b, [s.outFeatures]) : undefined;
    const gradOutput = upload(gpu, "gradOutput", dy, [s.batch, s.outFeatures]);
    const output = fresh(gpu, "output", [s.batch, s.outFeatures]);
    const gradInput = fresh(gpu, "gradInput", [s.batch, s.inFeatures]);
    const gradWeight = upload(gpu, "gradWeight", randomArray(s.outFeatures * s.inFeatures, 5), [
      s.outFeatures,
      s.inFeatures,
    ]);
    const gradBias = upload(gpu, "gradBias", randomArray(s.outFeatures, 6), [s.outFeatures]);
    submit(gpu, [
      ...linearForward(gpu, s, { input, weight, bias, output }, "fc"),
      ...linearBackward(gpu, s, { input, weight, gradOutput, gradInput, gradWeight, gradBias }, "fc"),
    ]);
    const expected = linearBackwardReference(x, w, dy, s);
    assertClose(await read(gpu, output), linearForwardReference(x, w, b, s), TOLERANCE, "output");
    assertClose(await read(gpu, gradInput), expected.gradInput, TOLERANCE, "gradInput");
    assertClose(await read(gpu, gradWeight), expected.gradWeight, TOLERANCE, "gradWeight");
    assertClose(await read(gpu, gradBias), expected.gradBias, TOLERANCE, "gradBias");
  });
}

Deno.test("linear: backward computes only the gradients it is given", async () => {
  const gpu = await testGpu();
  const s = { batch: 2, inFeatures: 3, outFeatures: 4 };
  const input = upload(gpu, "input", randomArray(6, 1), [2, 3]);
  const weight = upload(gpu, "weight", randomArray(12, 2), [4, 3]);
  const gradOutput = upload(gpu, "gradOutput", randomArray(8, 3), [2, 4]);
  assert.equal(linearBackward(gpu, s, { input, weight, gradOutput }, "fc").length, 0);
  const gradBias = fresh(gpu, "gradBias", [4]);
  const dispatches = linearBackward(gpu, s, { input, weight, gradOutput, gradBias }, "fc");
  assert.equal(dispatches.length, 1);
  assert.match(dispatches[0].label, /^fc: /);
});

Deno.test("linear: backward matches central differences of the CPU forward", async () => {
  const gpu = await testGpu();
  const s = { batch: 3, inFeatures: 4, outFeatures: 5 };
  const x = randomArray(12, 1), w = randomArray(20, 2), b = randomArray(5, 3), dy = randomArray(15, 4);
  const input = upload(gpu, "input", x, [3, 4]);
  const weight = upload(gpu, "weight", w, [5, 4]);
  const gradOutput = upload(gpu, "gradOutput", dy, [3, 5]);
  const gradInput = fresh(gpu, "gradInput", [3, 4]);
  const gradWeight = fresh(gpu, "gradWeight", [5, 4]);
  const gradBias = fresh(gpu, "gradBias", [5]);
  submit(gpu, linearBackward(gpu, s, { input, weight, gradOutput, gradInput, gradWeight, gradBias }, "fc"));
  // loss = sum(output * gradOutput), so its gradients are what the backward op computes.
  const loss = (xs: ArrayLike<number>, ws: ArrayLike<number>, bs: ArrayLike<number>) =>
    linearForwardReference(xs, ws, bs, s).reduce((sum, v, i) => sum + v * dy[i], 0);
  assertClose(
    await read(gpu, gradInput),
    centralDifferences((v) => loss(v, w, b), x),
    TOLERANCE,
    "gradInput",
  );
  assertClose(
    await read(gpu, gradWeight),
    centralDifferences((v) => loss(x, v, b), w),
    TOLERANCE,
    "gradWeight",
  );
  assertClose(await read(gpu, gradBias), centralDifferences((v) => loss(x, w, v), b), TOLERANCE, "gradBias");
});

Deno.test("linear: rejects bad sizes and mismatched tensors", async () => {
  const gpu = await testGpu();
  const input = fresh(gpu, "input", [2, 3]);
  const weight = fresh(gpu, "weight", [4, 3]);
  const output = fresh(gpu, "output", [2, 4]);
  assert.throws(
    () => linearForward(gpu, { batch: 0, inFeatures: 3, outFeatures: 4 }, { input, weight, output }, "fc"),
    /batch/,
  );
  assert.throws(
    () => linearForward(gpu, { batch: 2, inFeatures: 3, outFeatures: 5 }, { input, weight, output }, "fc"),
    /fc: weight has 12 elements/,
  );
});
