import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { type Dispatch, numel, submit, type Tensor, tensor } from "../../src/gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardDataSplits,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dGeometry,
  conv2dGeometry,
  type Conv2dOptions,
  conv2dUnrolledWeightShape,
  tuneConvolutions,
} from "../../src/ops/conv2d.ts";
import { dataSplit, gemmProblem, weightSplit } from "../../src/ops/_conv_kernels.ts";
import { backwardDataOp, backwardWeightOp, batchChunks, forwardOp } from "../../src/ops/_conv_chunks.ts";
import { denseApplies } from "../../src/ops/_conv_dense.ts";
import {
  fitsLimits,
  fixedTiling,
  FORWARD_WINDOW_CANDIDATES,
  GEMM_KINDS,
  gemmTiling,
  packsGroups,
  rowTiles,
  SLIDING_WINDOW_CANDIDATES,
  suitsAdapter,
  tileSize,
  TILING_CANDIDATES,
  UNTUNED,
} from "../../src/ops/_conv_strategy.ts";
import {
  conv2dBackwardDataReference,
  conv2dBackwardWeightReference,
  conv2dForwardReference,
} from "../reference/conv2d.ts";
import { assertClose, centralDifferences, dot, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;

function conv(
  outChannels: number,
  k: number | [number, number],
  s: number | [number, number] = 1,
  p: number | [number, number] = 0,
  d: number | [number, number] = 1,
  groups = 1,
): Conv2dOptions {
  const pair = (v: number | [number, number]): [number, number] => typeof v === "number" ? [v, v] : v;
  return { outChannels, kernelSize: pair(k), stride: pair(s), padding: pair(p), dilation: pair(d), groups };
}

/**
 * `tiling` indexes TILING_CANDIDATES: every tiling an autotune may pick runs at least once. The 16x16
 * register tiles take seconds to compile on llvmpipe, so they get one case each.
 */
const CASES: Array<
  { name: string; input: number[]; options: Conv2dOptions; bias?: boolean; tiling?: number }
> = [
  {
    name: "3x3 stride 1 padding 1, 3 -> 5 channels, batch 1",
    input: [1, 3, 7, 9],
    options: conv(5, 3, 1, 1),
  },
  {
    name: "3x3 stride 2 padding 1, 5 -> 6, batch 3",
    input: [3, 5, 7, 9],
    options: conv(6, 3, 2, 1),
    bias: true,
  },
  {
    name: "7x7 stride 2 padding 3 (stem), 3 -> 6, batch 2",
    input: [2, 3, 9, 7],
    options: conv(6, 7, 2, 3),
    bias: true,
    tiling: 3,
  },
  { name: "1x1 stride 1 padding 0, 6 -> 5, batch 3", input: [3, 6, 7, 9], options: conv(5, 1), bias: true },
  { name: "1x1 stride 2 (downsample), 6 -> 5, batch 2", input: [2, 6, 7, 9], options: conv(5, 1, 2) },
  { name: "3x3 dilation 2 padding 2, 5 -> 6, batch 1", input: [1, 5, 9, 7], options: conv(6, 3, 1, 2, 2) },
  { name: "3x3 groups 2, 6 -> 4, batch 2", input: [2, 6, 7, 9], options: conv(4, 3, 1, 1, 1, 2), bias: true },
  {
    name: "3x3 stride 2 depthwise (groups 6), batch 2",
    input: [2, 6, 7, 9],
    options: conv(6, 3, 2, 1, 1, 6),
  },
  {
    name: "1x3 kernel, stride [2, 1], padding [0, 1], dilation [1, 2], batch 3",
    input: [3, 5, 7, 9],
    options: conv(3, [1, 3], [2, 1], [0, 1], [1, 2]),
  },
  { name: "5x5 stride 3 padding 0, odd 8x10 input, batch 1", input: [1, 3, 8, 10], options: conv(5, 5, 3) },
  { name: "3x3 stride 2 padding 0, no padding read, batch 2", input: [2, 5, 9, 9], options: conv(6, 3, 2) },
  {
    name: "several row and column tiles, split backward-weight, 11 -> 37, batch 4",
    input: [4, 11, 24, 23],
    options: conv(37, 3, 1, 1),
    bias: true,
    tiling: 2,
  },
  {
    name: "tiny images, many channels: split backward-data, 2x2 stride 2 to 1x1, 5 -> 512, batch 2",
    input: [2, 5, 2, 2],
    options: conv(512, 3, 2, 1),
    tiling: 8,
  },
  {
    name: "3x3 on 2x3 images, fewer pixels than taps: a dense matrix, 5 -> 7, batch 3",
    input: [3, 5, 2, 3],
    options: conv(7, 3, 1, 1),
    bias: true,
  },
  {
    name: "3x3 on 2x2 images, no bias: a dense matrix, 6 -> 4, batch 2",
    input: [2, 6, 2, 2],
    options: conv(4, 3, 1, 1),
    tiling: 9,
  },
  {
    name: "1x1 image, 3x3 stride 2: the phases past the image are skipped, 4 -> 6, batch 3",
    input: [3, 4, 1, 1],
    options: conv(6, 3, 2, 1),
    bias: true,
  },
  {
    name: "3x3 stride 2, 8 groups of 4 channels (a ResNeXt's conv2), 32 -> 32, batch 2",
    input: [2, 32, 7, 9],
    options: conv(32, 3, 2, 1, 1, 8),
  },
  {
    name: "3x3, 4 groups of 8 -> 16 channels, 32 -> 64, batch 2",
    input: [2, 32, 6, 5],
    options: conv(64, 3, 1, 1, 1, 4),
    bias: true,
  },
];

const CHEAP_TILINGS = [5, 1, 4, 0, 6, 7];

/** A tuning with one quickly compiled tiling, for tests that are not about tilings. */
const CHEAP_TUNING = fixedTiling(TILING_CANDIDATES[CHEAP_TILINGS[1]]);

interface Data {
  input: Float32Array;
  weight: Float32Array;
  bias?: Float32Array;
  gradOutput: Float32Array;
}

function makeData(g: Conv2dGeometry, seed: number, bias: boolean): Data {
  return {
    input: randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, seed),
    weight: randomArray(g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth, seed + 1),
    bias: bias ? randomArray(g.outChannels, seed + 2) : undefined,
    gradOutput: randomArray(g.batch * g.outChannels * g.outHeight * g.outWidth, seed + 3),
  };
}

interface Tensors {
  input: Tensor;
  weight: Tensor;
  bias?: Tensor;
  output: Tensor;
  gradOutput: Tensor;
  gradInput: Tensor;
  gradWeight: Tensor;
  gradBias: Tensor;
}

function upload(gpu: Gpu, g: Conv2dGeometry, d: Data): Tensors {
  const inShape = [g.batch, g.inChannels, g.inHeight, g.inWidth];
  const outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const weightShape = [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth];
  // The input sits at a non-zero offset to check that ops honour Tensor.offset.
  const padded = new Float32Array(64 + d.input.length);
  padded.set(d.input, 64);
  const fresh = (label: string, shape: number[]) => tensor(gpu.buffer(label, numel(shape) * 4), shape);
  return {
    input: tensor(gpu.upload("input", padded), inShape, 256),
    weight: tensor(gpu.upload("weight", d.weight), weightShape),
    bias: d.bias ? tensor(gpu.upload("bias", d.bias), [g.outChannels]) : undefined,
    output: fresh("output", outShape),
    gradOutput: tensor(gpu.upload("gradOutput", d.gradOutput), outShape),
    gradInput: fresh("gradInput", inShape),
    gradWeight: fresh("gradWeight", weightShape),
    gradBias: fresh("gradBias", [g.outChannels]),
  };
}

async function read(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  return await gpu.readFloats(t.buffer, t.offset / 4, numel(t.shape));
}

async function run(gpu: Gpu, dispatches: Dispatch[]): Promise<void> {
  await gpu.checked("conv2d test", () => submit(gpu, dispatches));
}

/** Asserts the output and the gradients in `t` (the bias's where `d` has a bias) against the CPU references. */
async function assertMatchesReference(gpu: Gpu, g: Conv2dGeometry, d: Data, t: Tensors): Promise<void> {
  assertClose(
    await read(gpu, t.output),
    conv2dForwardReference(d.input, d.weight, d.bias, g),
    TOLERANCE,
    "output",
  );
  assertClose(
    await read(gpu, t.gradInput),
    conv2dBackwardDataReference(d.gradOutput, d.weight, g),
    TOLERANCE,
    "gradInput",
  );
  const expected = conv2dBackwardWeightReference(d.input, d.gradOutput, g);
  assertClose(await read(gpu, t.gradWeight), expected.gradWeight, TOLERANCE, "gradWeight");
  if (d.bias) assertClose(await read(gpu, t.gradBias), expected.gradBias, TOLERANCE, "gradBias");
}

const KINDS = GEMM_KINDS;

for (const [index, c] of CASES.entries()) {
  const tiling = TILING_CANDIDATES[c.tiling ?? CHEAP_TILINGS[index % CHEAP_TILINGS.length]];
  Deno.test(`conv2d: ${c.name}, tiling ${Object.values(tiling).join("/")}`, async () => {
    const gpu = await testGpu();
    const tuning = fixedTiling(tiling, KINDS);
    const g = conv2dGeometry(c.input, c.options);
    const d = makeData(g, 10 * index, c.bias ?? false);
    const t = upload(gpu, g, d);
    // Stale values in the outputs must be overwritten, not accumulated into.
    gpu.write(t.gradInput.buffer, randomArray(t.gradInput.buffer.size / 4, 99));
    gpu.write(t.gradWeight.buffer, randomArray(t.gradWeight.buffer.size / 4, 98));
    await run(gpu, [
      ...conv2dForward(gpu, g, t, "test", tuning),
      ...conv2dBackwardData(gpu, g, t, "test", tuning),
      ...conv2dBackwardWeight(gpu, g, { ...t, gradBias: c.bias ? t.gradBias : undefined }, "test", tuning),
    ]);
    await assertMatchesReference(gpu, g, d, t);
  });
}

Deno.test("conv2d: grouped, every register tiling packs the groups' rows into shared tiles and matches", async () => {
  const gpu = await testGpu();
  // ResNeXt's first stage in small: 8 groups of 4 channels, so that tiles of 16 or more rows hold several.
  const g = conv2dGeometry([2, 32, 6, 5], conv(32, 3, 1, 1, 1, 8));
  const d = makeData(g, 7, true);
  const packing = TILING_CANDIDATES.filter((t) => packsGroups(t, gemmProblem(g, "forward")));
  assert.ok(packing.length >= 3, "tilings with 4 rows per invocation or fewer");
  for (const tiling of packing) {
    const name = Object.values(tiling).join("/");
    for (const kind of ["forward", "backwardWeight", "backwardData"] as const) {
      const p = gemmProblem(g, kind);
      assert.ok(packsGroups(tiling, p), `${name} packs ${kind}`);
      assert.ok(rowTiles(tiling, p) < Math.ceil(p.rows / (tiling.rows * tiling.workgroupY)) * g.groups);
    }
    const t = upload(gpu, g, d);
    gpu.write(t.gradInput.buffer, randomArray(t.gradInput.buffer.size / 4, 97));
    const tuning = fixedTiling(tiling, KINDS);
    await run(gpu, [
      ...conv2dForward(gpu, g, t, "test", tuning),
      ...conv2dBackwardData(gpu, g, t, "test", tuning),
      ...conv2dBackwardWeight(gpu, g, t, "test", tuning),
    ]);
    await assertMatchesReference(gpu, g, d, t).catch((error) => {
      throw new Error(`tiling ${name}: ${error.message}`);
    });
  }
});

Deno.test("conv2d: 3x3 backward-weight by sliding windows matches the reference, grouped and dense", async () => {
  const gpu = await testGpu();
  const geometries = [
    // 4 and 8 channels per group, stride 1 and 2: the windows slide by one and by two input columns.
    conv2dGeometry([2, 16, 6, 7], conv(16, 3, 1, 1, 1, 4)),
    conv2dGeometry([2, 16, 7, 9], conv(16, 3, 2, 1, 1, 4)),
    conv2dGeometry([1, 32, 5, 6], conv(32, 3, 1, 1, 1, 4)),
    conv2dGeometry([2, 32, 6, 5], conv(32, 3, 2, 1, 1, 4)),
    // 6 -> 12 channels per group: blocks of input and output channels that overhang the group.
    conv2dGeometry([1, 12, 5, 5], conv(24, 3, 1, 1, 1, 2)),
    // Dense (one group), as the autotune may pick the windows for any 3x3 backward-weight.
    conv2dGeometry([2, 8, 6, 7], conv(12, 3, 1, 1, 1, 1)),
    conv2dGeometry([1, 6, 9, 8], conv(8, 3, 2, 1, 1, 1)),
    // No padding read; 8 groups of 4 over 2 x 32 x 32 outputs: a reduction split into slices.
    conv2dGeometry([1, 8, 7, 7], conv(8, 3, 2, 0, 1, 2)),
    conv2dGeometry([2, 32, 32, 32], conv(32, 3, 1, 1, 1, 8)),
  ];
  const split = geometries[geometries.length - 1];
  for (const tiling of SLIDING_WINDOW_CANDIDATES) {
    assert.ok(weightSplit(gpu, split, tiling).splits > 1);
  }
  for (const [i, g] of geometries.entries()) {
    assert.ok(gemmProblem(g, "backwardWeight").slidingWindow);
    const d = makeData(g, 40 + i, false);
    const expected = conv2dBackwardWeightReference(d.input, d.gradOutput, g).gradWeight;
    for (const tiling of SLIDING_WINDOW_CANDIDATES) {
      const t = upload(gpu, g, d);
      gpu.write(t.gradWeight.buffer, randomArray(t.gradWeight.buffer.size / 4, 96));
      await run(gpu, conv2dBackwardWeight(gpu, g, t, "test", fixedTiling(tiling, ["backwardWeight"])));
      const name = `${Object.values(tiling).join("/")} on [${[
        g.batch,
        g.inChannels,
        g.inHeight,
        g.inWidth,
      ]}]`;
      assertClose(await read(gpu, t.gradWeight), expected, TOLERANCE, `gradWeight, ${name}`);
    }
  }
});

Deno.test("conv2d: 3x3 forward and stride-1 backward-data by sliding windows match the reference", async () => {
  const gpu = await testGpu();
  const cases: Array<{ g: Conv2dGeometry; bias: boolean }> = [
    // 4 and 8 channels per group, stride 1 and 2: rows of 7, 5 and 3 pixels, shorter than some runs.
    { g: conv2dGeometry([2, 16, 6, 7], conv(16, 3, 1, 1, 1, 4)), bias: true },
    { g: conv2dGeometry([2, 16, 7, 9], conv(16, 3, 2, 1, 1, 4)), bias: false },
    { g: conv2dGeometry([1, 32, 5, 6], conv(32, 3, 1, 1, 1, 4)), bias: false },
    { g: conv2dGeometry([2, 32, 6, 5], conv(32, 3, 2, 1, 1, 4)), bias: true },
    // 6 -> 12 channels per group: blocks of output channels that overhang the group.
    { g: conv2dGeometry([1, 12, 5, 5], conv(24, 3, 1, 1, 1, 2)), bias: true },
    // Dense (one group), as the autotune may pick the windows for any such 3x3 forward.
    { g: conv2dGeometry([2, 8, 6, 7], conv(12, 3, 1, 1, 1, 1)), bias: false },
    { g: conv2dGeometry([1, 6, 9, 8], conv(8, 3, 2, 1, 1, 1)), bias: true },
    // No padding read: rows of 3 pixels, and of 8, which runs of 4 and 8 tile without bounds tests.
    { g: conv2dGeometry([1, 8, 7, 7], conv(8, 3, 2, 0, 1, 2)), bias: false },
    { g: conv2dGeometry([1, 8, 10, 10], conv(8, 3, 1, 0, 1, 2)), bias: true },
    // A vertical stride of 3: output rows that share no input row.
    { g: conv2dGeometry([1, 8, 10, 7], conv(8, 3, [3, 1], 1, 1, 2)), bias: false },
  ];
  // The light tilings take turns over the cases, so that each meets both strides and overhanging channel
  // blocks; the heavy one, whose kernels take seconds to compile on llvmpipe, runs one case of 8 channels
  // per group.
  const heavy = FORWARD_WINDOW_CANDIDATES.filter((t) => t.rows * t.columnVectors * (t.outputRows ?? 1) >= 64);
  const light = FORWARD_WINDOW_CANDIDATES.filter((t) => !heavy.includes(t));
  for (const [i, { g, bias }] of cases.entries()) {
    assert.ok(gemmProblem(g, "forward").slidingWindow);
    const d = makeData(g, 60 + i, bias);
    const expected = conv2dForwardReference(d.input, d.weight, d.bias, g);
    const turns = [light[i % light.length], light[(i + 2) % light.length]];
    if (i === 2) turns.push(...heavy);
    for (const tiling of turns) {
      const t = upload(gpu, g, d);
      gpu.write(t.output.buffer, randomArray(t.output.buffer.size / 4, 95));
      const dispatches = conv2dForward(gpu, g, t, "test", fixedTiling(tiling, ["forward"]));
      assert.equal(dispatches.length, 1);
      await run(gpu, dispatches);
      const name = `${Object.values(tiling).join("/")} on [${[
        g.batch,
        g.inChannels,
        g.inHeight,
        g.inWidth,
      ]}]`;
      assertClose(await read(gpu, t.output), expected, TOLERANCE, `output, ${name}`);
      // Backward-data of stride 1 is the forward convolution of grad_output with the kernel transposed.
      const unitStride = g.strideHeight === 1 && g.strideWidth === 1;
      assert.equal(gemmProblem(g, "backwardData").slidingWindow ?? false, unitStride);
      if (!unitStride) continue;
      gpu.write(t.gradInput.buffer, randomArray(t.gradInput.buffer.size / 4, 94));
      await run(gpu, conv2dBackwardData(gpu, g, t, "test", fixedTiling(tiling, ["backwardData"])));
      const gradInput = conv2dBackwardDataReference(d.gradOutput, d.weight, g);
      assertClose(await read(gpu, t.gradInput), gradInput, TOLERANCE, `gradInput, ${name}`);
    }
  }
});

Deno.test("conv2d: the sliding windows are a measured choice of their own 3x3 GEMMs only", async () => {
  const gpu = await testGpu();
  const grouped = conv2dGeometry([8, 128, 14, 14], conv(128, 3, 1, 1, 1, 32));
  const window = SLIDING_WINDOW_CANDIDATES[0];
  const gemm = TILING_CANDIDATES[0];
  const tuning = {
    results: { backwardWeight: [{ tiling: gemm, gflops: 10 }, { tiling: window, gflops: 10 }] },
  };
  // At the same rate, the GEMM's 36 columns padded to its tile's 64 lose to the unpadded windows.
  assert.equal(gemmTiling(gpu, tuning, "backwardWeight", gemmProblem(grouped, "backwardWeight")), window);
  for (
    const g of [
      conv2dGeometry([8, 64, 14, 14], conv(64, 1)),
      conv2dGeometry([8, 64, 14, 14], conv(64, 3, 1, 2, 2)),
    ]
  ) {
    assert.ok(!gemmProblem(g, "backwardWeight").slidingWindow);
    assert.equal(gemmTiling(gpu, tuning, "backwardWeight", gemmProblem(g, "backwardWeight")), gemm);
  }
  // Untuned, the GEMM tilings only; forced on what it cannot run, an error.
  assert.ok(
    !gemmTiling(gpu, UNTUNED, "backwardWeight", gemmProblem(grouped, "backwardWeight")).inputChannels,
  );
  assert.throws(
    () => gemmTiling(gpu, fixedTiling(window), "forward", gemmProblem(grouped, "forward")),
    /backwardWeight sliding-window tiling cannot run this forward GEMM/,
  );
  // Likewise forward's windows, which also need a stride of 1 or 2 along rows.
  const forward = FORWARD_WINDOW_CANDIDATES.find((t) => t.rows === 4)!;
  const forwardTuning = {
    results: { forward: [{ tiling: gemm, gflops: 10 }, { tiling: forward, gflops: 10 }] },
  };
  // At the same rate, the GEMM's 8-row tiles padding each group's 4 rows lose to the windows.
  assert.equal(gemmTiling(gpu, forwardTuning, "forward", gemmProblem(grouped, "forward")), forward);
  for (
    const g of [
      conv2dGeometry([8, 64, 14, 14], conv(64, 1)),
      conv2dGeometry([8, 64, 14, 14], conv(64, 3, 3, 1)),
    ]
  ) {
    assert.ok(!gemmProblem(g, "forward").slidingWindow);
    assert.equal(gemmTiling(gpu, forwardTuning, "forward", gemmProblem(g, "forward")), gemm);
  }
  assert.ok(!gemmTiling(gpu, UNTUNED, "forward", gemmProblem(grouped, "forward")).window);
  assert.throws(
    () => gemmTiling(gpu, fixedTiling(forward), "backwardWeight", gemmProblem(grouped, "backwardWeight")),
    /forward sliding-window tiling cannot run this backwardWeight GEMM/,
  );
  // Backward-data takes forward's windows at stride 1 only.
  const data = { results: { backwardData: forwardTuning.results.forward } };
  assert.equal(gemmTiling(gpu, data, "backwardData", gemmProblem(grouped, "backwardData")), forward);
  const strided = conv2dGeometry([8, 128, 28, 28], conv(128, 3, 2, 1, 1, 32));
  assert.equal(gemmTiling(gpu, data, "backwardData", gemmProblem(strided, "backwardData")), gemm);
});

Deno.test("conv2d: every tiling candidate is tested, the large cases split their reductions, the tiny ones go dense", async () => {
  const tested = new Set(CASES.map((c, i) => c.tiling ?? CHEAP_TILINGS[i % CHEAP_TILINGS.length]));
  const grouped = conv2dGeometry([2, 32, 6, 5], conv(32, 3, 1, 1, 1, 8));
  TILING_CANDIDATES.forEach((t, i) => packsGroups(t, gemmProblem(grouped, "forward")) && tested.add(i));
  assert.equal(tested.size, TILING_CANDIDATES.length);
  const gpu = await testGpu();
  const byName = (start: string) => {
    const c = CASES.find((c) => c.name.startsWith(start))!;
    return conv2dGeometry(c.input, c.options);
  };
  const large = byName("several row and column tiles"), tiny = byName("tiny images");
  assert.ok(denseApplies(byName("3x3 on 2x3 images")) && denseApplies(byName("3x3 on 2x2 images")));
  assert.ok(!denseApplies(tiny) && !denseApplies(large));
  for (const tiling of TILING_CANDIDATES) {
    assert.ok(weightSplit(gpu, large, tiling).splits > 1);
    assert.ok(dataSplit(gpu, tiny, tiling).splits > 1);
  }
});

Deno.test("conv2d: backward matches central differences of the CPU forward", async () => {
  const gpu = await testGpu();
  const tuning = CHEAP_TUNING;
  for (const options of [conv(3, 3, 2, 1), conv(4, 3, 1, 2, 2, 2)]) {
    const g = conv2dGeometry([2, 2 * options.groups, 5, 4], options);
    const d = makeData(g, 3, true);
    const t = upload(gpu, g, d);
    await run(gpu, [
      ...conv2dBackwardData(gpu, g, t, "fd", tuning),
      ...conv2dBackwardWeight(gpu, g, t, "fd", tuning),
    ]);
    // loss = sum(output * gradOutput), so its gradients are what the backward ops compute.
    const loss = (input: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>) =>
      dot(conv2dForwardReference(input, weight, bias, g), d.gradOutput);
    const bias = d.bias!;
    assertClose(
      await read(gpu, t.gradInput),
      centralDifferences((x) => loss(x, d.weight, bias), d.input),
      TOLERANCE,
      "gradInput",
    );
    assertClose(
      await read(gpu, t.gradWeight),
      centralDifferences((w) => loss(d.input, w, bias), d.weight),
      TOLERANCE,
      "gradWeight",
    );
    assertClose(
      await read(gpu, t.gradBias),
      centralDifferences((b) => loss(d.input, d.weight, b), bias),
      TOLERANCE,
      "gradBias",
    );
  }
});

Deno.test("conv2dGeometry computes output sizes like PyTorch and rejects bad shapes", () => {
  const g = conv2dGeometry([2, 3, 32, 32], conv(64, 7, 2, 3));
  assert.deepEqual([g.outHeight, g.outWidth], [16, 16]);
  assert.deepEqual(
    [
      conv2dGeometry([1, 4, 7, 9], conv(4, [3, 1], [2, 3], [1, 0], [2, 1])).outHeight,
      conv2dGeometry([1, 4, 7, 9], conv(4, [3, 1], [2, 3], [1, 0], [2, 1])).outWidth,
    ],
    [3, 3],
  );
  assert.throws(() => conv2dGeometry([1, 6, 8, 8], conv(4, 3, 1, 1, 1, 4)), /divisible by groups/);
  assert.throws(() => conv2dGeometry([1, 3, 2, 2], conv(4, 5)), /too small/);
  assert.throws(() => conv2dGeometry([1, 3, 8], conv(4, 3)), /\[N, C, H, W\]/);
  assert.throws(() => conv2dGeometry([1, 3, 8, 8], conv(4, 3, 0)), /stride/);
});

Deno.test("conv2d ops reject tensors of the wrong size", async () => {
  const gpu = await testGpu();
  const g = conv2dGeometry([1, 3, 4, 4], conv(2, 3, 1, 1));
  const t = upload(gpu, g, makeData(g, 1, false));
  assert.throws(
    () => conv2dForward(gpu, g, { ...t, output: tensor(t.output.buffer, [1, 2, 4, 3]) }, "layer1"),
    /layer1: output has 24 elements/,
  );
});

Deno.test("conv2d: a batch larger than one binding runs in aligned runs of images", async () => {
  const gpu = await testGpu();
  const tuning = CHEAP_TUNING;
  // 64 input and 128 output floats per image: any run of images starts 256-byte aligned.
  const g = conv2dGeometry([5, 4, 4, 4], conv(8, 3, 1, 1));
  const maxBinding = 2 * 128 * 4;
  assert.deepEqual(batchChunks(g, maxBinding, "test").map((c) => [c.start, c.geometry.batch]), [[0, 2], [
    2,
    2,
  ], [4, 1]]);
  const d = makeData(g, 21, true);
  const t = upload(gpu, g, d);
  await run(gpu, [
    ...forwardOp(gpu, g, t, { bias: t.bias }, "test", tuning, { maxBindingBytes: maxBinding }),
    ...backwardDataOp(gpu, g, t, "test", tuning, maxBinding),
    ...backwardWeightOp(gpu, g, t, { weight: "test weight", bias: "test bias" }, tuning, maxBinding),
  ]);
  await assertMatchesReference(gpu, g, d, t);
  // 63 floats per image: only runs of 64 images would stay aligned.
  assert.throws(
    () => batchChunks(conv2dGeometry([8, 7, 3, 3], conv(7, 3)), 1024, "layer2"),
    /layer2: 64 images/,
  );
});

Deno.test("conv2d: unsummed backward-data leaves partial sums that add up to the gradient", async () => {
  const gpu = await testGpu();
  for (
    const [input, options] of [
      [[2, 5, 2, 2], conv(512, 3, 2, 1)],
      [[1, 8, 4, 4], conv(256, 3, 1, 1)],
      // A dense matrix: its GEMM's partial sums.
      [[2, 16, 2, 2], conv(256, 3, 1, 1)],
    ] as const
  ) {
    const g = conv2dGeometry(input, options);
    const tuning = fixedTiling(TILING_CANDIDATES[8], KINDS);
    const splits = conv2dBackwardDataSplits(gpu, g, tuning);
    assert.ok(splits > 1, `${input}: split`);
    const d = makeData(g, 7, false);
    const t = upload(gpu, g, d);
    const count = numel(input);
    const gradInput = tensor(gpu.buffer("partial sums", splits * count * 4), [splits, ...input]);
    // Stale values must be overwritten, not accumulated into.
    gpu.write(gradInput.buffer, randomArray(splits * count, 99));
    await run(gpu, conv2dBackwardData(gpu, g, { ...t, gradInput }, "test", tuning, { unsummed: true }));
    const partial = await read(gpu, gradInput);
    const sum = Float32Array.from({ length: count }, (_, i) => {
      let total = 0;
      for (let s = 0; s < splits; s++) total += partial[s * count + i];
      return total;
    });
    assertClose(
      sum,
      conv2dBackwardDataReference(d.gradOutput, d.weight, g),
      TOLERANCE,
      `${input}: gradInput`,
    );
    assert.throws(
      () => conv2dBackwardData(gpu, g, t, "layer4.0.conv1", tuning, { unsummed: true }),
      new RegExp(`layer4.0.conv1: gradInput has ${count} elements .*expected ${splits * count}`),
    );
  }
});

Deno.test("conv2d: a dense convolution's unrolled weight, kept from forward, serves backward-data", async () => {
  const gpu = await testGpu();
  const g = conv2dGeometry([3, 6, 2, 2], conv(5, 3, 1, 1));
  const shape = conv2dUnrolledWeightShape(g)!;
  assert.deepEqual(shape, [5 * 4, 6 * 4, 1, 1]);
  const d = makeData(g, 3, false);
  const t = upload(gpu, g, d);
  const unrolledWeight = tensor(gpu.buffer("unrolled", numel(shape) * 4), shape);
  const forward = conv2dForward(gpu, g, { ...t, unrolledWeight }, "test", CHEAP_TUNING);
  const backward = conv2dBackwardData(gpu, g, { ...t, unrolledWeight }, "test", CHEAP_TUNING);
  assert.deepEqual(forward.map((x) => x.label), ["test: conv2d forward unroll", "test: conv2d forward"]);
  assert.ok(backward.every((x) => !x.label.includes("unroll")), backward.map((x) => x.label).join());
  await run(gpu, [...forward, ...backward, ...conv2dBackwardWeight(gpu, g, t, "test", CHEAP_TUNING)]);
  await assertMatchesReference(gpu, g, d, t);
  const direct = conv2dGeometry([3, 6, 4, 4], conv(5, 3, 1, 1));
  assert.equal(conv2dUnrolledWeightShape(direct), undefined);
  assert.throws(
    () =>
      conv2dForward(
        gpu,
        direct,
        { ...upload(gpu, direct, makeData(direct, 4, false)), unrolledWeight },
        "conv",
      ),
    /conv: unrolledWeight given, but this convolution does not run as a dense matrix/,
  );
  const short = tensor(unrolledWeight.buffer, [numel(shape) - 1]);
  assert.throws(
    () => conv2dBackwardData(gpu, g, { ...t, unrolledWeight: short }, "conv"),
    new RegExp(`conv: unrolledWeight has ${numel(shape) - 1} elements .*expected ${numel(shape)}`),
  );
});

Deno.test("conv2d: backward-data takes one dispatch per run of stride phases that have taps, or have none", async () => {
  const gpu = await testGpu();
  const dispatches = (input: number[], options: Conv2dOptions) => {
    const g = conv2dGeometry(input, options);
    const t = {
      gradOutput: tensor(gpu.buffer("dy", 4 * g.batch * g.outChannels * g.outHeight * g.outWidth), [
        g.batch,
        g.outChannels,
        g.outHeight,
        g.outWidth,
      ]),
      weight: tensor(gpu.buffer("w", 4 * g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth), [
        g.outChannels,
        g.inChannels,
        g.kernelHeight,
        g.kernelWidth,
      ]),
      gradInput: tensor(gpu.buffer("dx", 4 * g.batch * g.inChannels * g.inHeight * g.inWidth), input),
    };
    return conv2dBackwardData(gpu, g, t, "layer2.0", CHEAP_TUNING).map((d) => d.workgroups[2]);
  };
  // 3x3 stride 2: every phase has taps, so one dispatch covers all four (a slab of z each).
  const strided = dispatches([2, 8, 8, 8], conv(8, 3, 2, 1));
  assert.equal(strided.length, 1);
  assert.equal(strided[0] % 4, 0);
  // 1x1 stride 2 (a downsample): phase (0, 0) has the one tap, the other three none and only write zeros.
  const downsample = dispatches([2, 8, 8, 8], conv(8, 1, 2, 0));
  assert.equal(downsample.length, 2);
  assert.equal(downsample[1], 3 * downsample[0]);
});

Deno.test("conv2d: the autotune records its measurements and reuses earlier ones", async () => {
  const gpu = await testGpu();
  const candidates = [TILING_CANDIDATES[1], TILING_CANDIDATES[4]];
  const geometry = conv2dGeometry([2, 8, 6, 6], conv(8, 3, 1, 1));
  const tuning = await tuneConvolutions(gpu, { candidates, geometry, minMilliseconds: 1 });
  for (const kind of KINDS) {
    assert.deepEqual(tuning.results[kind].map((r) => r.tiling), candidates);
    for (const r of tuning.results[kind]) assert.ok(r.gflops > 0 && Number.isFinite(r.gflops));
    assert.ok(candidates.includes(gemmTiling(gpu, tuning, kind, gemmProblem(geometry, kind))));
  }
  assert.equal(await tuneConvolutions(gpu, { previous: tuning }), tuning);
  // With a shortlist of one, only the forward GEMM times both; the others its faster one.
  const short = await tuneConvolutions(gpu, { candidates, geometry, minMilliseconds: 1, shortlist: 1 });
  const fastest = short.results.forward.reduce((a, b) => b.gflops > a.gflops ? b : a).tiling;
  assert.equal(short.results.forward.length, 2);
  for (const kind of KINDS.filter((k) => k !== "forward")) {
    assert.deepEqual(short.results[kind].map((r) => r.tiling), [fastest], kind);
  }
  // Whichever is faster, the narrow one (32 columns against 128) stays on the shortlist for small images.
  const widths = [TILING_CANDIDATES[0], TILING_CANDIDATES[4]];
  assert.deepEqual(widths.map((t) => tileSize(t).columns), [128, 32]);
  const kept = await tuneConvolutions(gpu, {
    candidates: widths,
    geometry,
    minMilliseconds: 1,
    shortlist: 1,
  });
  for (const kind of KINDS.filter((k) => k !== "forward")) {
    assert.ok(kept.results[kind].some((r) => tileSize(r.tiling).columns === 32), kind);
  }
  const bytes = gpu.bytesAllocated;
  await tuneConvolutions(gpu, { candidates: [TILING_CANDIDATES[4]], geometry, minMilliseconds: 1 });
  assert.equal(gpu.bytesAllocated, bytes, "the tuning buffers are released");
});

Deno.test("conv2d: the autotune times staged tilings on GPUs only, not on a fallback adapter", async () => {
  const gpu = await testGpu();
  const as = (isFallbackAdapter: boolean): Gpu =>
    Object.create(gpu, { adapter: { value: { ...gpu.adapter, isFallbackAdapter } } });
  const staged = TILING_CANDIDATES.filter((t) => t.stagedSteps !== undefined);
  const registers = TILING_CANDIDATES.filter((t) => t.stagedSteps === undefined);
  assert.ok(staged.length > 0 && registers.length > 0);
  for (const t of staged) {
    assert.equal(suitsAdapter(as(true), t), false);
    assert.equal(suitsAdapter(as(false), t), fitsLimits(gpu, t));
  }
  for (const t of registers) assert.equal(suitsAdapter(as(true), t), fitsLimits(gpu, t));
});

Deno.test("conv2d: the default autotune times a stride-1 and a stride-2 problem and releases both", async () => {
  const gpu = await testGpu();
  const candidates = [TILING_CANDIDATES[4]];
  const tuning = await tuneConvolutions(gpu, { candidates, minMilliseconds: 1 });
  for (const kind of KINDS) {
    assert.equal(tuning.results[kind].length, 1);
    assert.ok(tuning.results[kind][0].gflops > 0 && Number.isFinite(tuning.results[kind][0].gflops));
  }
  assert.ok(tuning.winogradTransformMsPerValue > 0);
  // Every buffer of the tuning, its scratch included, is released: a second run adds nothing.
  const bytes = gpu.bytesAllocated;
  await tuneConvolutions(gpu, { candidates, minMilliseconds: 1 });
  assert.equal(gpu.bytesAllocated, bytes, "the tuning buffers are released");
});
