import assert from "node:assert/strict";
import { submit } from "../../src/gpu/kernel.ts";
import { WeightEma } from "../../src/optim/ema.ts";
import { emaUpdateReference } from "../reference/ema.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";

// One float32 lerp rounds three times; the GPU may fuse the multiply-add.
const TOLERANCE = 1e-6;

Deno.test("WeightEma: copies on the first update, then follows torch's lerp, across chunks and tails", async () => {
  const gpu = await testGpu();
  // 64-float chunks: 203 floats make three whole chunks and a last one of 11 (two vec4fs and a tail of 3).
  const floats = 203;
  const averaged = gpu.buffer("averaged", 256 * 4);
  const current = gpu.buffer("current", 256 * 4);
  const ema = WeightEma.create(gpu, [{ name: "weights", averaged: averaged, current }], {
    decay: 0.75,
    chunkFloats: 64,
  });
  const expected = new Float32Array(256);
  for (let update = 0; update < 4; update++) {
    const values = randomArray(256, 10 + update, 3);
    gpu.write(current, values);
    ema.prepareUpdate();
    submit(gpu, ema.dispatches);
    emaUpdateReference(expected, values, 0.75, update === 0);
    const actual = await gpu.readFloats(averaged, 0, floats);
    if (update === 0) assert.deepEqual(actual, values.subarray(0, floats), "the first update copies");
    assertClose(actual, expected.subarray(0, floats), TOLERANCE, `update ${update}`);
  }
  assert.equal(ema.updates, 4);
});

Deno.test("WeightEma: a weight of one half or more takes lerp's other form, exact at decay 0", async () => {
  const gpu = await testGpu();
  const averaged = gpu.upload("averaged", new Float32Array([1, 2, 3, 4, 5]));
  const current = gpu.upload("current", new Float32Array([-1, 0.5, 7, 1e-7, 5]));
  const ema = WeightEma.create(gpu, [{ name: "weights", averaged, current }], { decay: 0 });
  ema.updates = 1; // resumed: not a copy, yet weight 1 must land on `current` exactly
  ema.prepareUpdate();
  submit(gpu, ema.dispatches);
  assert.deepEqual(await gpu.readFloats(averaged, 0, 5), new Float32Array([-1, 0.5, 7, 1e-7, 5]));
});

Deno.test("WeightEma: refuses a decay outside [0, 1] and a source smaller than the average", async () => {
  const gpu = await testGpu();
  const big = gpu.buffer("big", 512), small = gpu.buffer("small", 256);
  assert.throws(
    () => WeightEma.create(gpu, [{ name: "w", averaged: big, current: big }], { decay: 1.5 }),
    /ema: decay must be in \[0, 1\], got 1.5/,
  );
  assert.throws(
    () => WeightEma.create(gpu, [{ name: "w", averaged: big, current: small }], { decay: 0.9 }),
    /ema: w: the values averaged are smaller than the average/,
  );
});
