import assert from "node:assert/strict";
import { add, reluBackward, reluForward, sumSplits } from "../../src/ops/elementwise.ts";
import { submit, tensor } from "../../src/gpu/kernel.ts";
import { addReference, reluBackwardReference, reluReference } from "../reference/elementwise.ts";
import { assertClose, centralDifferences, dot, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;
const COUNT = 1001; // odd: the last workgroup is partly idle

Deno.test("relu forward matches the reference, at a non-zero offset", async () => {
  const gpu = await testGpu();
  const x = randomArray(COUNT, 1);
  const inputBuffer = gpu.buffer("x", 256 + COUNT * 4);
  gpu.write(inputBuffer, x, 256);
  const output = tensor(gpu.buffer("y", COUNT * 4), [COUNT]);
  submit(gpu, reluForward(gpu, COUNT, { input: tensor(inputBuffer, [COUNT], 256), output }, "test"));
  assertClose(await gpu.readFloats(output.buffer, 0, COUNT), reluReference(x), TOLERANCE, "relu");
});

Deno.test("relu backward matches the reference and finite differences", async () => {
  const gpu = await testGpu();
  const x = randomArray(COUNT, 2), gradOutput = randomArray(COUNT, 3);
  const output = reluReference(x);
  const gradInput = tensor(gpu.buffer("dx", COUNT * 4), [COUNT]);
  submit(
    gpu,
    reluBackward(gpu, COUNT, {
      output: tensor(gpu.upload("y", new Float32Array(output)), [COUNT]),
      gradOutput: tensor(gpu.upload("dy", gradOutput), [COUNT]),
      gradInput,
    }, "test"),
  );
  const actual = await gpu.readFloats(gradInput.buffer, 0, COUNT);
  assertClose(actual, reluBackwardReference(output, gradOutput), TOLERANCE, "relu backward");
  const numeric = centralDifferences((v) => dot(reluReference(v), gradOutput), x);
  assertClose(actual, numeric, TOLERANCE, "relu backward against finite differences");
});

for (const relu of [false, true]) {
  Deno.test(`residual add relu ${relu}: output, gradient vs reference and finite differences`, async () => {
    const gpu = await testGpu();
    const a = randomArray(COUNT, 4), b = randomArray(COUNT, 5), gradOutput = randomArray(COUNT, 6);
    const output = tensor(gpu.buffer("sum", COUNT * 4), [COUNT]);
    const gradSum = tensor(gpu.buffer("dsum", COUNT * 4), [COUNT]);
    submit(gpu, [
      ...add(
        gpu,
        COUNT,
        {
          a: tensor(gpu.upload("a", a), [COUNT]),
          b: tensor(gpu.upload("b", b), [COUNT]),
          output,
        },
        { relu },
        "test",
      ),
      // Both summands receive the gradient of the sum, through the ReLU when it is fused.
      ...(relu
        ? reluBackward(gpu, COUNT, {
          output,
          gradOutput: tensor(gpu.upload("dy", gradOutput), [COUNT]),
          gradInput: gradSum,
        }, "test")
        : []),
    ]);
    const actual = await gpu.readFloats(output.buffer, 0, COUNT);
    assertClose(actual, addReference(a, b, relu), TOLERANCE, "add");
    const gradient = relu ? await gpu.readFloats(gradSum.buffer, 0, COUNT) : gradOutput;
    const numericA = centralDifferences((v) => dot(addReference(v, b, relu), gradOutput), a);
    const numericB = centralDifferences((v) => dot(addReference(a, v, relu), gradOutput), b);
    assertClose(gradient, numericA, TOLERANCE, "d/da against finite differences");
    assertClose(gradient, numericB, TOLERANCE, "d/db against finite differences");
  });
}

Deno.test("sumSplits adds partial sums in order, like the split-K sum it replaces", async () => {
  const gpu = await testGpu();
  const splits = 3;
  const partial = randomArray(splits * COUNT, 7);
  const total = tensor(gpu.buffer("total", COUNT * 4), [COUNT]);
  const t = { partial: tensor(gpu.upload("partial", partial), [splits, COUNT]), total };
  submit(gpu, sumSplits(gpu, COUNT, splits, t, "test"));
  const expected = Float32Array.from(
    { length: COUNT },
    (_, i) => Math.fround(Math.fround(partial[i] + partial[COUNT + i]) + partial[2 * COUNT + i]),
  );
  assert.deepEqual(await gpu.readFloats(total.buffer, 0, COUNT), expected);
  assert.throws(() => sumSplits(gpu, COUNT, 2, t, "layer1"), /layer1: gradient split sum: partial has 3003/);
});

Deno.test("element-wise ops reject tensors of the wrong size", async () => {
  const gpu = await testGpu();
  const small = tensor(gpu.buffer("small", 16), [4]);
  assert.throws(
    () => reluForward(gpu, 5, { input: small, output: small }, "layer1"),
    /layer1: input has 4 elements, expected 5/,
  );
});
