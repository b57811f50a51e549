import assert from "node:assert/strict";
import { submit } from "../../src/gpu/kernel.ts";
import { Adam, type AdamCreateOptions, type AdamGroupRange } from "../../src/optim/adam.ts";
import { adamInitialState, type AdamReferenceState, adamStepReference } from "../reference/adam.ts";
import { clipGradNormReference } from "../reference/sgd.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";

// Relative to each range's max abs value, after three float32 steps against the float64 reference; the
// largest measured on llvmpipe is 2.3e-7 (exp_avg_sq, a few float32 roundings of g * g per step).
const TOLERANCE = 1e-6;

/** Flat buffers of `floats` floats: random params, moments that start at zero, as torch's. */
async function setup(floats: number, groups: AdamGroupRange[], options: AdamCreateOptions = {}) {
  const gpu = await testGpu();
  const params = randomArray(floats, 21);
  const buffers = {
    params: gpu.upload("params", params),
    grads: gpu.buffer("grads", floats * 4),
    expAvg: gpu.buffer("exp_avg", floats * 4),
    expAvgSq: gpu.buffer("exp_avg_sq", floats * 4),
    maxExpAvgSq: gpu.buffer("max_exp_avg_sq", floats * 4),
  };
  const adam = Adam.create(gpu, buffers, groups, { chunkFloats: 4096, ...options });
  return { gpu, adam, buffers, params };
}

Deno.test("adam and adamw: each specialisation of the update and its tail matches the float64 reference", async () => {
  // Group a: 5003 floats in chunks of 4096 and 907 (a tail of 3); frozen [5003, 5056); group b: 280 floats.
  const n = 5376;
  const ranges = [{ offset: 0, length: 5003 }, { offset: 5056, length: 280 }];
  const cases: Array<[string, Omit<AdamGroupRange, "offset" | "length">, AdamCreateOptions]> = [
    ["adam", { lr: 1e-2 }, {}],
    ["adam, L2 weight decay, amsgrad", { lr: 1e-2, weightDecay: 0.1, amsgrad: true }, {}],
    ["adam, other betas and eps, clipping", { lr: 1e-2, betas: [0.5, 0.9], eps: 1e-3 }, { maxGradNorm: 5 }],
    ["adamw", { lr: 1e-2, weightDecay: 0.1, decoupledWeightDecay: true }, {}],
    ["adamw, amsgrad, norm without clipping", {
      lr: 1e-2,
      weightDecay: 0.01,
      decoupledWeightDecay: true,
      amsgrad: true,
    }, { maxGradNorm: Infinity }],
  ];
  // The third gradient is small, so that amsgrad's maximum differs from the current second moment.
  const grads = [randomArray(n, 22), randomArray(n, 23), randomArray(n, 24, 0.01)];
  for (const [name, options, createOptions] of cases) {
    const groups = ranges.map((r) => ({ ...r, ...options }));
    const t = await setup(n, groups, createOptions);
    const norms = createOptions.maxGradNorm === undefined ? 0 : 4;
    assert.equal(t.adam.dispatches.length, norms + 4, `${name}: dispatches`);
    let state: AdamReferenceState[] = ranges.map((r) =>
      adamInitialState(t.params.subarray(r.offset, r.offset + r.length))
    );
    for (const [k, g] of grads.entries()) {
      t.gpu.write(t.buffers.grads, g);
      t.adam.prepareStep();
      submit(t.gpu, t.adam.dispatches);
      const slices = ranges.map((r) => g.subarray(r.offset, r.offset + r.length));
      const { coefficient } = clipGradNormReference(slices, createOptions.maxGradNorm ?? Infinity);
      if (createOptions.maxGradNorm === 5 && k === 0) assert.ok(coefficient < 0.5, "the test clips");
      state = groups.map((r, i) => adamStepReference(state[i], slices[i], k + 1, r, coefficient));
    }
    assert.equal(t.adam.stepCount, 3);
    const read = async (buffer: GPUBuffer) => await t.gpu.readFloats(buffer, 0, n);
    const [params, expAvg, expAvgSq, maxExpAvgSq] = await Promise.all(
      [t.buffers.params, t.buffers.expAvg, t.buffers.expAvgSq, t.buffers.maxExpAvgSq].map(read),
    );
    ranges.forEach((r, i) => {
      const cut = (a: Float32Array) => a.subarray(r.offset, r.offset + r.length);
      assertClose(cut(params), state[i].params, TOLERANCE, `${name}: group ${i} params`);
      assertClose(cut(expAvg), state[i].expAvg, TOLERANCE, `${name}: group ${i} exp_avg`);
      assertClose(cut(expAvgSq), state[i].expAvgSq, TOLERANCE, `${name}: group ${i} exp_avg_sq`);
      if (options.amsgrad) {
        assertClose(cut(maxExpAvgSq), state[i].maxExpAvgSq, TOLERANCE, `${name}: group ${i} max_exp_avg_sq`);
        assert.notDeepEqual(state[i].maxExpAvgSq, state[i].expAvgSq, "the maximum is not the last moment");
      } else assert.ok(cut(maxExpAvgSq).every((v) => v === 0), `${name}: max_exp_avg_sq untouched`);
    });
    for (const [start, end] of [[5003, 5056], [5336, n]]) {
      assert.deepEqual(params.subarray(start, end), t.params.subarray(start, end), `${name}: frozen params`);
      assert.ok(expAvg.subarray(start, end).every((v) => v === 0), `${name}: frozen exp_avg`);
    }
  }
});

Deno.test("adam rejects invalid options as torch.optim.Adam does, naming them", async () => {
  const gpu = await testGpu();
  const buffers = {
    params: gpu.buffer("p", 1024),
    grads: gpu.buffer("g", 1024),
    expAvg: gpu.buffer("m", 1024),
    expAvgSq: gpu.buffer("v", 1024),
  };
  const make = (group: Partial<AdamGroupRange>, options: AdamCreateOptions = {}) => () =>
    Adam.create(gpu, buffers, [{ offset: 0, length: 64, lr: 1e-3, ...group }], options);
  assert.throws(make({ lr: -1 }), /adam: param group 0: Invalid lr value: -1/);
  assert.throws(make({ lr: NaN }), /Invalid lr value: NaN/);
  assert.throws(make({ betas: [1, 0.999] }), /Invalid beta parameter at index 0: 1 \(must be in \[0, 1\)\)/);
  assert.throws(make({ betas: [0.9, -0.1] }), /Invalid beta parameter at index 1: -0.1/);
  assert.throws(make({ eps: 0 }), /Invalid epsilon value: 0/);
  assert.throws(make({ eps: -1e-8 }), /Invalid epsilon value/);
  assert.throws(make({ weightDecay: -0.01 }), /Invalid weight_decay value: -0.01/);
  assert.throws(make({ amsgrad: true }), /needs a max_exp_avg_sq buffer, but none was given/);
  assert.throws(make({ length: 300 }), /past the end of the params buffer/);
  assert.throws(make({}, { maxGradNorm: -1 }), /maxGradNorm must be positive/);
  assert.throws(() => make({})().prepareStep([-0.1]), /adam: Invalid lr value: -0.1/);
  assert.throws(() => make({})().prepareStep([0.1, 0.2]), /2 learning rates given for 1 param groups/);
  await assert.rejects(make({})().totalGradNorm(), /computed only with maxGradNorm/);
});

Deno.test("adam resumed at a later step continues its moments with that step's bias corrections", async () => {
  const t = await setup(64, [{ offset: 0, length: 64, lr: 1e-2 }]);
  const m = randomArray(64, 25, 0.1);
  const v = randomArray(64, 26, 0.01).map(Math.abs);
  const g = randomArray(64, 27);
  t.gpu.write(t.buffers.expAvg, m);
  t.gpu.write(t.buffers.expAvgSq, v);
  t.gpu.write(t.buffers.grads, g);
  t.adam.stepCount = 10;
  t.adam.prepareStep();
  submit(t.gpu, t.adam.dispatches);
  const expected = adamStepReference(
    {
      params: Float64Array.from(t.params),
      expAvg: Float64Array.from(m),
      expAvgSq: Float64Array.from(v),
      maxExpAvgSq: new Float64Array(64),
    },
    g,
    11,
    { lr: 1e-2 },
  );
  assertClose(await t.gpu.readFloats(t.buffers.params, 0, 64), expected.params, TOLERANCE, "params");
  assert.equal(t.adam.stepCount, 11);
});
