import assert from "node:assert/strict";
import { submit } from "../../src/gpu/kernel.ts";
import { type ParamGroupRange, Sgd, type SgdCreateOptions } from "../../src/optim/sgd.ts";
import { clipGradNormReference, sgdStepReference } from "../reference/sgd.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";

// The expected values below were worked by hand from torch.optim.SGD's documented update; each equals
// what `torch.optim.SGD([p], ...)` gives for these inputs in float32 up to rounding. One float32 step
// rounds a few times, hence the tolerance.
const TOLERANCE = 1e-6;

/** Flat buffers of `floats` floats, filled with `fill` outside the given values. */
async function setup(
  floats: number,
  values: { params: number[]; grads: number[]; momentum?: number[]; at?: number }[],
  groups: ParamGroupRange[],
  options: SgdCreateOptions = {},
) {
  const gpu = await testGpu();
  const params = new Float32Array(floats).fill(42);
  const grads = new Float32Array(floats).fill(1);
  const momentum = new Float32Array(floats).fill(7);
  for (const v of values) {
    params.set(v.params, v.at ?? 0);
    grads.set(v.grads, v.at ?? 0);
    if (v.momentum) momentum.set(v.momentum, v.at ?? 0);
  }
  const buffers = {
    params: gpu.upload("params", params),
    grads: gpu.upload("grads", grads),
    momentum: gpu.upload("momentum", momentum),
  };
  const sgd = Sgd.create(gpu, buffers, groups, options);
  return {
    gpu,
    sgd,
    buffers,
    /** Runs one step with these learning rates (the groups' own by default). */
    step(lrs?: number[]) {
      sgd.prepareStep(lrs);
      submit(gpu, sgd.dispatches);
    },
    setGrads(values: number[], at = 0) {
      gpu.write(buffers.grads, new Float32Array(values), at * 4);
    },
    params: (at = 0, n = 2) => gpu.readFloats(buffers.params, at, n),
    momentum: (at = 0, n = 2) => gpu.readFloats(buffers.momentum, at, n),
  };
}

const p0 = [1, -2];
const g1 = [0.5, 0.25];
const g2 = [0.1, -0.3];

Deno.test("sgd with momentum: the first step starts the buffer as the gradient, the second adds to it", async () => {
  const opt = { lr: 0.1, momentum: 0.9 };
  // The momentum buffer holds garbage (7) before the first step: it must be ignored.
  const t = await setup(64, [{ params: p0, grads: g1 }], [{ offset: 0, length: 2, ...opt }]);
  t.step();
  assertClose(await t.params(), [0.95, -2.025], TOLERANCE, "params after step 1");
  assertClose(await t.momentum(), [0.5, 0.25], TOLERANCE, "buffer after step 1");
  t.setGrads(g2);
  t.step();
  assertClose(await t.params(), [0.895, -2.0175], TOLERANCE, "params after step 2");
  assertClose(await t.momentum(), [0.55, -0.075], TOLERANCE, "buffer after step 2");
  assert.equal(t.sgd.stepCount, 2);
  // The float64 reference agrees with the hand-worked values.
  const first = sgdStepReference(p0, g1, undefined, opt);
  assertClose(sgdStepReference(first.params, g2, first.momentum, opt).params, [0.895, -2.0175], 1e-12);
});

Deno.test("sgd with Nesterov momentum", async () => {
  const t = await setup(64, [{ params: p0, grads: g1 }], [
    { offset: 0, length: 2, lr: 0.1, momentum: 0.9, nesterov: true },
  ]);
  t.step();
  // d = g + 0.9 * g = [0.95, 0.475]
  assertClose(await t.params(), [0.905, -2.0475], TOLERANCE, "params after step 1");
  t.setGrads(g2);
  t.step();
  // buf = 0.9 * g1 + g2 = [0.55, -0.075]; d = g2 + 0.9 * buf = [0.595, -0.3675]
  assertClose(await t.params(), [0.8455, -2.01075], TOLERANCE, "params after step 2");
});

Deno.test("sgd with weight decay and no momentum leaves the momentum buffer alone", async () => {
  const t = await setup(64, [{ params: p0, grads: g1 }], [{
    offset: 0,
    length: 2,
    lr: 0.1,
    weightDecay: 0.01,
  }]);
  t.step();
  // d = g + 0.01 * p = [0.51, 0.23]
  assertClose(await t.params(), [0.949, -2.023], TOLERANCE);
  assert.deepEqual([...await t.momentum()], [7, 7]);
});

Deno.test("sgd with dampening: the first step does not dampen, later ones do", async () => {
  const t = await setup(64, [{ params: p0, grads: g1 }], [
    { offset: 0, length: 2, lr: 0.1, momentum: 0.9, dampening: 0.5 },
  ]);
  t.step();
  assertClose(await t.params(), [0.95, -2.025], TOLERANCE, "params after step 1");
  t.setGrads(g2);
  t.step();
  // buf = 0.9 * g1 + 0.5 * g2 = [0.5, 0.075]
  assertClose(await t.momentum(), [0.5, 0.075], TOLERANCE, "buffer after step 2");
  assertClose(await t.params(), [0.9, -2.0325], TOLERANCE, "params after step 2");
});

Deno.test("sgd: two groups with their own lr and weight decay; frozen and padding floats stay untouched", async () => {
  // Group a: floats [0, 3); padding [3, 64); frozen [64, 128); group b: [128, 130).
  const t = await setup(192, [
    { params: [1, -2, 0.5], grads: [0.5, 0.25, -1] },
    { params: [3, 4], grads: [1, -1], at: 128 },
  ], [
    { offset: 0, length: 3, lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
    { offset: 128, length: 2, lr: 0.01, momentum: 0.9 },
  ]);
  t.step();
  assertClose(await t.params(0, 3), [0.949, -2.023, 0.5995], TOLERANCE, "group a, step 1");
  assertClose(await t.params(128, 2), [2.99, 4.01], TOLERANCE, "group b, step 1");
  // Step 2 with scheduled learning rates and the same gradients:
  // a: d = g + 0.01 * p = [0.50949, 0.22977, -0.994005]; buf = 0.9 * [0.51, 0.23, -0.995] + d
  t.step([0.05, 0.02]);
  assertClose(await t.params(0, 3), [0.9005755, -2.0448385, 0.69397525], TOLERANCE, "group a, step 2");
  assertClose(await t.params(128, 2), [2.952, 4.048], TOLERANCE, "group b, step 2");
  const untouched = await t.params(3, 125);
  assert.ok(untouched.every((v) => v === 42), "floats outside every group keep their values");
  assert.ok((await t.momentum(3, 125)).every((v) => v === 7), "and so do their momentum buffers");
});

Deno.test("sgd clips by the global gradient norm over all groups, on the GPU", async () => {
  // ||[3, 4, 12]|| = 13 over two groups; clip to 6.5: coefficient 6.5 / (13 + 1e-6).
  const values = [{ params: [0, 0], grads: [3, 4] }, { params: [0], grads: [12], at: 64 }];
  const groups = [{ offset: 0, length: 2, lr: 1 }, { offset: 64, length: 1, lr: 1 }];
  const t = await setup(128, values, groups, { maxGradNorm: 6.5 });
  t.step();
  const coefficient = 6.5 / 13.000001;
  assertClose(await t.params(0, 2), [-3 * coefficient, -4 * coefficient], TOLERANCE, "group a");
  assertClose(await t.params(64, 1), [-12 * coefficient], TOLERANCE, "group b");
  assertClose([await t.sgd.totalGradNorm()], [13], TOLERANCE, "total norm");
  assertClose([clipGradNormReference([[3, 4], [12]], 6.5).coefficient], [coefficient], 1e-12);

  // A norm under the limit leaves the gradients as they are; Infinity only measures.
  for (const maxGradNorm of [100, Infinity]) {
    const u = await setup(128, values, groups, { maxGradNorm });
    u.step();
    assert.deepEqual([...await u.params(0, 2), ...await u.params(64, 1)], [-3, -4, -12]);
    assertClose([await u.sgd.totalGradNorm()], [13], TOLERANCE, `total norm, maxGradNorm ${maxGradNorm}`);
  }
});

Deno.test("sgd splits groups into chunks and matches the float64 reference", async () => {
  // chunkFloats 8192 stands in for the 128 MiB binding limit: group a spans two chunks, and its first chunk
  // two workgroups of the norm reduction.
  const a = { offset: 0, length: 10000, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true };
  const b = { offset: 10048, length: 300, lr: 0.2, momentum: 0.8, dampening: 0.1 };
  const n = 10048 + 300;
  const params = randomArray(n, 1);
  const grads = [randomArray(n, 2), randomArray(n, 3)];
  const t = await setup(n, [{ params: [...params], grads: [...grads[0]] }], [a, b], {
    maxGradNorm: 10,
    chunkFloats: 8192,
  });
  // A partial-sum dispatch per chunk (3) and the final sum, then an update per chunk (3).
  assert.equal(t.sgd.dispatches.length, 7);
  let state = [a, b].map((g) => ({
    params: params.subarray(g.offset, g.offset + g.length) as ArrayLike<number>,
    momentum: undefined as Float64Array | undefined,
  }));
  for (const g of grads) {
    t.setGrads([...g]);
    t.step();
    const slices = [a, b].map((r) => g.subarray(r.offset, r.offset + r.length));
    const { coefficient, totalNorm } = clipGradNormReference(slices, 10);
    assert.ok(coefficient < 0.5, "the test clips");
    assertClose([await t.sgd.totalGradNorm()], [totalNorm], 1e-5, "total norm");
    state = [a, b].map((r, i) =>
      sgdStepReference(state[i].params, slices[i], state[i].momentum, r, coefficient)
    );
  }
  assertClose(await t.params(0, a.length), state[0].params, 1e-5, "group a");
  assertClose(await t.params(b.offset, b.length), state[1].params, 1e-5, "group b");
  assertClose(await t.momentum(b.offset, b.length), state[1].momentum!, 1e-5, "group b momentum");
});

Deno.test("sgd resumed at a later step continues the momentum buffer it is given", async () => {
  const t = await setup(64, [{ params: p0, grads: g1, momentum: [1, 2] }], [
    { offset: 0, length: 2, lr: 0.1, momentum: 0.9 },
  ]);
  t.sgd.stepCount = 1000;
  t.step();
  // buf = 0.9 * [1, 2] + g1 = [1.4, 2.05]
  assertClose(await t.momentum(), [1.4, 2.05], TOLERANCE, "buffer");
  assertClose(await t.params(), [0.86, -2.205], TOLERANCE, "params");
});

Deno.test("sgd rejects invalid options as PyTorch does, naming them", async () => {
  const gpu = await testGpu();
  const buffers = {
    params: gpu.buffer("p", 1024),
    grads: gpu.buffer("g", 1024),
    momentum: gpu.buffer("m", 1024),
  };
  const make = (group: Partial<ParamGroupRange>, options: SgdCreateOptions = {}) => () =>
    Sgd.create(gpu, buffers, [{ offset: 0, length: 64, lr: 0.1, ...group }], options);
  assert.throws(make({ lr: -1 }), /Invalid lr value: -1/);
  assert.throws(make({ momentum: -0.5 }), /Invalid momentum value: -0.5/);
  assert.throws(make({ weightDecay: -1e-4 }), /Invalid weightDecay value/);
  assert.throws(make({ nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/);
  assert.throws(
    make({ nesterov: true, momentum: 0.9, dampening: 0.1 }),
    /Nesterov momentum requires a momentum and zero dampening/,
  );
  assert.throws(make({ offset: 32 }), /offset 32 is not a multiple of 64 floats/);
  assert.throws(make({ length: 300 }), /past the end of the params buffer/);
  assert.throws(make({}, { maxGradNorm: 0 }), /maxGradNorm must be positive/);
  assert.throws(
    () => Sgd.create(gpu, buffers, [{ offset: 0, length: 100, lr: 1 }, { offset: 64, length: 64, lr: 1 }]),
    /param group 1: overlaps another group/,
  );
  assert.throws(() => make({})().prepareStep([0.1, 0.2]), /2 learning rates given for 1 param groups/);
  await assert.rejects(make({})().totalGradNorm(), /computed only with maxGradNorm/);
});

Deno.test("sgd: every specialisation of the vec4 update and its scalar tail matches the float64 reference", async () => {
  // Group a: 5003 floats, 1250 vec4s (several per invocation) and a tail of 3; frozen [5003, 5056);
  // group b: [5056, 5336), whole vec4s only; frozen [5336, 5376).
  const n = 5376;
  const ranges = [{ offset: 0, length: 5003 }, { offset: 5056, length: 280 }];
  const cases: Array<[string, Omit<ParamGroupRange, "offset" | "length">, SgdCreateOptions]> = [
    ["plain", { lr: 0.1 }, {}],
    ["weight decay", { lr: 0.1, weightDecay: 0.01 }, {}],
    ["momentum", { lr: 0.1, momentum: 0.9 }, {}],
    ["momentum, dampening, weight decay", { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 }, {}],
    ["nesterov", { lr: 0.1, momentum: 0.9, nesterov: true }, {}],
    ["nesterov, weight decay, clipping", { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, {
      maxGradNorm: 5,
    }],
    ["weight decay, norm without clipping", { lr: 0.1, weightDecay: 0.01 }, { maxGradNorm: Infinity }],
  ];
  const params = randomArray(n, 11);
  const grads = [randomArray(n, 12), randomArray(n, 13)];
  const momentum = randomArray(n, 14);
  for (const [name, options, createOptions] of cases) {
    const groups = ranges.map((r) => ({ ...r, ...options }));
    const t = await setup(
      n,
      [{ params: [...params], grads: [...grads[0]], momentum: [...momentum] }],
      groups,
      {
        ...createOptions,
        chunkFloats: 4096,
      },
    );
    // Group a: chunks of 4096 and 907 floats, the second with a tail; group b: one chunk.
    const norms = createOptions.maxGradNorm === undefined ? 0 : 4;
    assert.equal(t.sgd.dispatches.length, norms + 4, `${name}: dispatches`);
    let state = groups.map((r) => ({
      params: params.subarray(r.offset, r.offset + r.length) as ArrayLike<number>,
      momentum: undefined as Float64Array | undefined,
    }));
    for (const g of grads) {
      t.setGrads([...g]);
      t.step();
      const slices = groups.map((r) => g.subarray(r.offset, r.offset + r.length));
      const { coefficient } = clipGradNormReference(slices, createOptions.maxGradNorm ?? Infinity);
      if (createOptions.maxGradNorm === 5) assert.ok(coefficient < 0.5, "the test clips");
      state = groups.map((r, i) =>
        sgdStepReference(state[i].params, slices[i], state[i].momentum, r, coefficient)
      );
    }
    const all = await t.params(0, n);
    const allMomentum = await t.momentum(0, n);
    groups.forEach((r, i) => {
      assertClose(all.subarray(r.offset, r.offset + r.length), state[i].params, 1e-5, `${name}: group ${i}`);
      const buffer = allMomentum.subarray(r.offset, r.offset + r.length);
      if (state[i].momentum) assertClose(buffer, state[i].momentum!, 1e-5, `${name}: group ${i} momentum`);
      else assert.deepEqual(buffer, momentum.subarray(r.offset, r.offset + r.length), `${name}: no momentum`);
    });
    for (const [start, end] of [[5003, 5056], [5336, n]]) {
      assert.deepEqual(all.subarray(start, end), params.subarray(start, end), `${name}: frozen params`);
      assert.deepEqual(
        allMomentum.subarray(start, end),
        momentum.subarray(start, end),
        `${name}: frozen momentum`,
      );
    }
  }
});
