import assert from "node:assert/strict";
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  type MaxPool2dGeometry,
  maxPool2dGeometry,
} from "../../src/ops/pool.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { submit, tensor } from "../../src/gpu/kernel.ts";
import {
  globalAvgPoolBackwardReference,
  globalAvgPoolReference,
  maxPool2dBackwardReference,
  maxPool2dReference,
} from "../reference/pool.ts";
import { assertClose, centralDifferences, dot, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;

type PoolOptions = Parameters<typeof maxPool2dGeometry>[1];
const pool = (
  k: [number, number],
  s: [number, number],
  p: [number, number],
  d: [number, number] = [1, 1],
) => ({
  kernelSize: k,
  stride: s,
  padding: p,
  dilation: d,
});

const CASES: Array<{ name: string; input: number[]; options: PoolOptions }> = [
  {
    name: "3x3 stride 2 padding 1 (ResNet stem), batch 1",
    input: [1, 3, 9, 11],
    options: pool([3, 3], [2, 2], [1, 1]),
  },
  {
    name: "3x3 stride 2 padding 1 (ResNet stem), batch 3",
    input: [3, 5, 10, 7],
    options: pool([3, 3], [2, 2], [1, 1]),
  },
  { name: "2x2 stride 2, odd sizes", input: [3, 3, 7, 9], options: pool([2, 2], [2, 2], [0, 0]) },
  {
    name: "2x3 stride (1, 2) padding 1, dilation (2, 1)",
    input: [1, 5, 8, 9],
    options: pool([2, 3], [1, 2], [1, 1], [2, 1]),
  },
];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const outShape = (g: MaxPool2dGeometry) => [g.batch, g.channels, g.outHeight, g.outWidth];

/** Runs max pool forward on `input`, then backward for `gradOutput`. */
async function maxPoolOnGpu(gpu: Gpu, g: MaxPool2dGeometry, input: Float32Array, gradOutput: Float32Array) {
  const inShape = [g.batch, g.channels, g.inHeight, g.inWidth];
  const output = tensor(gpu.buffer("y", size(outShape(g)) * 4), outShape(g));
  const indices = tensor(gpu.buffer("argmax", size(outShape(g)) * 4), outShape(g));
  const gradInput = tensor(gpu.upload("dx", randomArray(size(inShape), 9, 1e3)), inShape);
  submit(gpu, [
    ...maxPool2dForward(gpu, g, { input: tensor(gpu.upload("x", input), inShape), output, indices }, "test"),
    ...maxPool2dBackward(gpu, g, {
      gradOutput: tensor(gpu.upload("dy", gradOutput), outShape(g)),
      indices,
      gradInput,
    }, "test"),
  ]);
  return {
    output: await gpu.readFloats(output.buffer, 0, size(outShape(g))),
    indices: new Uint32Array(await gpu.read(indices.buffer, 0, size(outShape(g)) * 4)),
    gradInput: await gpu.readFloats(gradInput.buffer, 0, size(inShape)),
  };
}

for (const { name, input: shape, options } of CASES) {
  Deno.test(`max pool ${name}: forward, indices, backward vs reference and finite differences`, async () => {
    const gpu = await testGpu();
    const g = maxPool2dGeometry(shape, options);
    const input = randomArray(size(shape), 1), gradOutput = randomArray(size(outShape(g)), 2);
    const actual = await maxPoolOnGpu(gpu, g, input, gradOutput);
    const expected = maxPool2dReference(input, g);
    assertClose(actual.output, expected.output, TOLERANCE, "output");
    assert.deepEqual(actual.indices, expected.indices);
    assertClose(
      actual.gradInput,
      maxPool2dBackwardReference(gradOutput, expected.indices, g),
      TOLERANCE,
      "grad input",
    );
    const numeric = centralDifferences((x) => dot(maxPool2dReference(x, g).output, gradOutput), input);
    assertClose(actual.gradInput, numeric, TOLERANCE, "grad input against finite differences");
  });
}

Deno.test("max pool picks the first maximum on ties, as PyTorch", async () => {
  const gpu = await testGpu();
  const g = maxPool2dGeometry([2, 3, 9, 8], pool([3, 3], [2, 2], [1, 1]));
  // Values from a set of five, so most windows hold several equal maxima.
  const input = randomArray(size([2, 3, 9, 8]), 3).map((v) => Math.round(v * 2) / 2);
  const gradOutput = randomArray(size(outShape(g)), 4);
  const actual = await maxPoolOnGpu(gpu, g, input, gradOutput);
  const expected = maxPool2dReference(input, g);
  assert.deepEqual(actual.indices, expected.indices);
  assertClose(
    actual.gradInput,
    maxPool2dBackwardReference(gradOutput, expected.indices, g),
    TOLERANCE,
    "grad input",
  );
});

Deno.test("max pool backward adds two gradient terms as it reads them, one as partial sums", async () => {
  const gpu = await testGpu();
  const shape = [3, 5, 10, 7];
  const g = maxPool2dGeometry(shape, pool([3, 3], [2, 2], [1, 1]));
  const outputs = size(outShape(g));
  const input = randomArray(size(shape), 5);
  const [a, b, c, extra] = [6, 7, 8, 10].map((seed) => randomArray(outputs, seed));
  const expected = maxPool2dReference(input, g);
  const gradOutput = Float32Array.from(a, (v, i) => Math.fround(Math.fround(v + b[i]) + c[i]) + extra[i]);
  const indices = tensor(gpu.upload("argmax", expected.indices), outShape(g));
  const gradInput = tensor(gpu.buffer("dx", size(shape) * 4), shape);
  const splits = new Float32Array([...a, ...b, ...c]);
  const t = {
    gradOutput: tensor(gpu.upload("dy splits", splits), [3, ...outShape(g)]),
    gradExtra: tensor(gpu.upload("dy'", extra), outShape(g)),
    indices,
    gradInput,
  };
  submit(gpu, maxPool2dBackward(gpu, g, t, "test", { gradSplits: 3 }));
  assertClose(
    await gpu.readFloats(gradInput.buffer, 0, size(shape)),
    maxPool2dBackwardReference(gradOutput, expected.indices, g),
    TOLERANCE,
    "grad input",
  );
  assert.throws(
    () => maxPool2dBackward(gpu, g, t, "maxpool"),
    /maxpool: gradOutput has 900 elements, expected 300/,
  );
  // The second term as two partial sums of its own.
  const half = randomArray(outputs, 11);
  const extraSplits = new Float32Array([...half, ...Float32Array.from(extra, (v, i) => v - half[i])]);
  const both = { ...t, gradExtra: tensor(gpu.upload("dy' splits", extraSplits), [2, ...outShape(g)]) };
  submit(gpu, maxPool2dBackward(gpu, g, both, "test", { gradSplits: 3, extraSplits: 2 }));
  assertClose(
    await gpu.readFloats(gradInput.buffer, 0, size(shape)),
    maxPool2dBackwardReference(gradOutput, expected.indices, g),
    TOLERANCE,
    "grad input, both terms split",
  );
});

Deno.test("max pool geometry follows PyTorch's output size and checks", () => {
  const stem = maxPool2dGeometry([8, 64, 112, 112], pool([3, 3], [2, 2], [1, 1]));
  assert.deepEqual([stem.outHeight, stem.outWidth], [56, 56]);
  const odd = maxPool2dGeometry([1, 1, 7, 9], pool([2, 2], [2, 2], [0, 0]));
  assert.deepEqual([odd.outHeight, odd.outWidth], [3, 4]);
  assert.throws(
    () => maxPool2dGeometry([1, 1, 8, 8], pool([3, 3], [2, 2], [2, 1])),
    /padding should be at most half/,
  );
  assert.throws(
    () => maxPool2dGeometry([1, 1, 2, 8], pool([3, 3], [1, 1], [0, 0])),
    /output size 0x6, which is too small/,
  );
  assert.throws(
    () => maxPool2dGeometry([1, 8, 8], pool([2, 2], [2, 2], [0, 0])),
    /expected an NCHW input shape/,
  );
  assert.throws(
    () => maxPool2dGeometry([1, 1, 8, 8], pool([2, 2], [0, 2], [0, 0])),
    /strides must be integers >= 1/,
  );
  // Kernel 2 dilated by 3 with padding 1 on 2 rows: the only window's taps are rows -1 and 2.
  assert.throws(
    () => maxPool2dGeometry([1, 1, 2, 8], pool([2, 2], [1, 1], [1, 1], [3, 1])),
    /entirely in the padding/,
  );
});

/**
 * Plane sizes for each way of summing a plane: one invocation per plane (scalar: 7, 49, 130; vec4: 16),
 * one workgroup per plane beyond 1024 Vecs (scalar: 1031; vec4: 4100).
 */
const AVERAGE_CASES = [[7, 15], [49, 15], [130, 15], [16, 15], [1031, 3], [4100, 3]];

for (const [spatial, planes] of AVERAGE_CASES) {
  Deno.test(`global average pool over ${spatial} values vs reference and finite differences`, async () => {
    const gpu = await testGpu();
    const input = randomArray(planes * spatial, 5), gradOutput = randomArray(planes, 6);
    const output = tensor(gpu.buffer("y", planes * 4), [planes]);
    const gradInput = tensor(gpu.buffer("dx", planes * spatial * 4), [planes, spatial]);
    submit(gpu, [
      ...globalAvgPoolForward(gpu, { planes, spatial }, {
        input: tensor(gpu.upload("x", input), [planes, spatial]),
        output,
      }, "test"),
      ...globalAvgPoolBackward(gpu, { planes, spatial }, {
        gradOutput: tensor(gpu.upload("dy", gradOutput), [planes]),
        gradInput,
      }, "test"),
    ]);
    const actual = await gpu.readFloats(output.buffer, 0, planes);
    assertClose(actual, globalAvgPoolReference(input, planes, spatial), TOLERANCE, "output");
    const actualGrad = await gpu.readFloats(gradInput.buffer, 0, planes * spatial);
    assertClose(actualGrad, globalAvgPoolBackwardReference(gradOutput, spatial), TOLERANCE, "grad input");
    const numeric = centralDifferences(
      (x) => dot(globalAvgPoolReference(x, planes, spatial), gradOutput),
      input,
    );
    assertClose(actualGrad, numeric, TOLERANCE, "grad input against finite differences");
  });
}
