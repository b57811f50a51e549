import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { type Dispatch, numel, submit, type Tensor, tensor } from "../../src/gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dGeometry,
  conv2dGeometry,
  type Conv2dOptions,
  tuneConvolutions,
} from "../../src/ops/conv2d.ts";
import { type ConvTuning, fixedTiling, GEMM_KINDS, TILING_CANDIDATES } from "../../src/ops/_conv_strategy.ts";
import {
  useWinograd,
  winogradBackwardDataOp,
  winogradBackwardWeightOp,
  winogradForwardOp,
  winogradLayout,
  winogradScratchParts,
  type WinogradTile,
  winogradTile,
} from "../../src/ops/_conv_winograd.ts";
import {
  conv2dBackwardDataReference,
  conv2dBackwardWeightReference,
  conv2dForwardReference,
} from "../reference/conv2d.ts";
import { assertClose, centralDifferences, randomArray, testGpu } from "../_gpu.ts";

/**
 * Per algorithm. F(2x2, 3x3): the same tolerance as the direct kernels'. Winograd adds and subtracts up
 * to 16 inputs in the input transform and 9 products in the output transform, so it could lose some
 * precision to cancellation, but F(2x2, 3x3)'s coefficients (0, +-1, +-1/2) are exact in binary and its
 * GEMMs are 2.25 times shorter: measured relative errors are 1e-7 to 6e-7 (direct: 1e-7 to 2e-6) up to
 * 256 channels; backward-weight 1.8e-7 to 3.9e-7 here. F(4x4, 3x3)'s coefficients reach 8 and 1/24 (not
 * exact in binary) and its input transform weighs values by up to 25, so it loses more: measured 1.6e-6
 * to 5.1e-6 here (64 channels the most; backward-weight 1.3e-6 to 2.1e-6), hence 3e-5. A wrong tap, tile
 * or edge gives ~1e-1.
 */
const TOLERANCES = { winograd: 1e-5, winograd4x4: 3e-5 } as const;

function conv3x3(outChannels: number, stride = 1, dilation = 1, groups = 1): Conv2dOptions {
  return {
    outChannels,
    kernelSize: [3, 3],
    stride: [stride, stride],
    padding: [dilation, dilation],
    dilation: [dilation, dilation],
    groups,
  };
}

interface Case {
  name: string;
  input: number[];
  outChannels: number;
  bias?: boolean;
  /** Index into TILING_CANDIDATES of the Winograd GEMM's tiling. */
  tiling: number;
}

/** Odd and even sizes, batch 1 and 3, channels 3, 5 and 64; register and workgroup-memory tilings. */
const CASES: Case[] = [
  { name: "batch 1, 3 -> 5 channels, 7x9", input: [1, 3, 7, 9], outChannels: 5, bias: true, tiling: 1 },
  { name: "batch 3, 5 -> 64 channels, 9x7", input: [3, 5, 9, 7], outChannels: 64, tiling: 4 },
  { name: "batch 3, 64 -> 5 channels, 7x9", input: [3, 64, 7, 9], outChannels: 5, bias: true, tiling: 6 },
  { name: "batch 1, 64 -> 64 channels, 8x6", input: [1, 64, 8, 6], outChannels: 64, tiling: 0 },
];

interface Setup {
  g: Conv2dGeometry;
  data: { input: Float32Array; weight: Float32Array; bias?: Float32Array; gradOutput: Float32Array };
  t: {
    input: Tensor;
    weight: Tensor;
    bias?: Tensor;
    output: Tensor;
    gradOutput: Tensor;
    gradInput: Tensor;
    gradWeight: Tensor;
    gradBias?: Tensor;
  };
}

function setup(gpu: Gpu, inputShape: number[], options: Conv2dOptions, seed: number, bias: boolean): Setup {
  const g = conv2dGeometry(inputShape, options);
  const inShape = [g.batch, g.inChannels, g.inHeight, g.inWidth];
  const outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const data = {
    input: randomArray(numel(inShape), seed),
    weight: randomArray(g.outChannels * (g.inChannels / g.groups) * 9, seed + 1),
    bias: bias ? randomArray(g.outChannels, seed + 2) : undefined,
    gradOutput: randomArray(numel(outShape), seed + 3),
  };
  // The input sits at a non-zero offset to check that the transforms honour Tensor.offset.
  const padded = new Float32Array(64 + data.input.length);
  padded.set(data.input, 64);
  const fresh = (label: string, shape: number[]) => {
    // Stale values must be overwritten, not accumulated into.
    const buffer = gpu.upload(label, randomArray(numel(shape), seed + 4));
    return tensor(buffer, shape);
  };
  return {
    g,
    data,
    t: {
      input: tensor(gpu.upload("input", padded), inShape, 256),
      weight: tensor(gpu.upload("weight", data.weight), [g.outChannels, g.inChannels / g.groups, 3, 3]),
      bias: data.bias ? tensor(gpu.upload("bias", data.bias), [g.outChannels]) : undefined,
      output: fresh("output", outShape),
      gradOutput: tensor(gpu.upload("gradOutput", data.gradOutput), outShape),
      gradInput: fresh("gradInput", inShape),
      gradWeight: fresh("gradWeight", [g.outChannels, g.inChannels / g.groups, 3, 3]),
      gradBias: bias ? fresh("gradBias", [g.outChannels]) : undefined,
    },
  };
}

async function read(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  return await gpu.readFloats(t.buffer, t.offset / 4, numel(t.shape));
}

async function run(gpu: Gpu, dispatches: Dispatch[]): Promise<void> {
  await gpu.checked("winograd test", () => submit(gpu, dispatches));
}

function usesWinograd(dispatches: Dispatch[]): boolean {
  return dispatches.some((d) => d.label.includes("winograd"));
}

for (const [index, c] of CASES.entries()) {
  const tiling = TILING_CANDIDATES[c.tiling];
  for (const algorithm of ["winograd", "winograd4x4"] as const) {
    const name = `conv2d ${algorithm}: ${c.name}, GEMM tiling ${Object.values(tiling).join("/")}`;
    Deno.test(name, async () => {
      const gpu = await testGpu();
      const tuning = fixedTiling(tiling, ["winograd"], { algorithm });
      const { g, data, t } = setup(gpu, c.input, conv3x3(c.outChannels), 10 * index, c.bias ?? false);
      const forward = conv2dForward(gpu, g, t, "test", tuning);
      const backward = conv2dBackwardData(gpu, g, t, "test", tuning);
      const weight = conv2dBackwardWeight(gpu, g, t, "test", tuning);
      assert.ok(usesWinograd(forward) && usesWinograd(backward) && usesWinograd(weight));
      await run(gpu, [...forward, ...backward, ...weight]);
      const expected = conv2dForwardReference(data.input, data.weight, data.bias, g);
      assertClose(await read(gpu, t.output), expected, TOLERANCES[algorithm], "output");
      const expectedGrad = conv2dBackwardDataReference(data.gradOutput, data.weight, g);
      assertClose(await read(gpu, t.gradInput), expectedGrad, TOLERANCES[algorithm], "gradInput");
      const expectedWeight = conv2dBackwardWeightReference(data.input, data.gradOutput, g);
      const gradWeight = await read(gpu, t.gradWeight);
      assertClose(gradWeight, expectedWeight.gradWeight, TOLERANCES[algorithm], "gradWeight");
      if (t.gradBias) assertClose(await read(gpu, t.gradBias), expectedWeight.gradBias, 1e-5, "gradBias");
    });
  }
}

/** A scratch case: input shape, budget (binding limit and scratch bytes alike), tile, expected runs. */
interface ScratchCase {
  input: number[];
  bytes: number;
  tile: WinogradTile;
  /** [start, batch, chunks, columns] per run. */
  runs: number[][];
  /** The same for backward-weight, whose chunks hold both transformed tensors. */
  weightRuns: number[][];
}

const SCRATCH_CASES: ScratchCase[] = [
  // 64 input and 128 output floats per image, 4 tiles each: runs of 3 images, chunks of 3 tiles (M takes
  // 8 channels * 16 floats per tile); the last chunk of the second run is partly past its tiles.
  // Backward-weight: 12 channels * 16 floats per tile leave room for one tile per chunk.
  {
    input: [5, 4, 4, 4],
    bytes: 3 * 128 * 4,
    tile: 2,
    runs: [[0, 3, 4, 3], [3, 2, 3, 3]],
    weightRuns: [[0, 3, 12, 1], [3, 2, 8, 1]],
  },
  // 8x8 images in 4x4 tiles, 4 per image, and 512 output floats: runs of 2 images, chunks of 3 tiles (M
  // takes 8 channels * 36 floats per tile), the last partly past its tiles; the last run of 1 image.
  // Backward-weight: 12 channels * 36 floats per tile, two tiles per chunk.
  {
    input: [5, 4, 8, 8],
    bytes: 4096,
    tile: 4,
    runs: [[0, 2, 3, 3], [2, 2, 3, 3], [4, 1, 2, 2]],
    weightRuns: [[0, 2, 4, 2], [2, 2, 4, 2], [4, 1, 2, 2]],
  },
];

for (const c of SCRATCH_CASES) {
  const name =
    `conv2d winograd: ${c.tile}x${c.tile} tiles in runs of images and chunks share a small scratch`;
  Deno.test(name, async () => {
    const gpu = await testGpu();
    const tuning = fixedTiling(TILING_CANDIDATES[1], ["winograd"]);
    const { g, data, t } = setup(gpu, c.input, conv3x3(8), 7, true);
    const sizes = { maxBindingBytes: c.bytes, scratchBytes: c.bytes, tile: c.tile };
    const forward = winogradScratchParts(gpu, g, "forward", tuning, sizes);
    const backward = winogradScratchParts(gpu, g, "backwardData", tuning, sizes);
    const weight = winogradScratchParts(gpu, g, "backwardWeight", tuning, sizes);
    const scratch = forward.map((bytes, i) => {
      const floats = Math.max(bytes, backward[i], weight[i]) / 4;
      return tensor(gpu.buffer(`scratch ${i}`, floats * 4), [floats]);
    });
    const options = { ...sizes, scratch };
    const runs = (pass: "forward" | "backwardWeight") =>
      winogradLayout(g, pass, c.bytes, c.bytes, "test", c.tile).runs.map((r) => [
        r.start,
        r.batch,
        r.chunks,
        r.columns,
      ]);
    assert.deepEqual(runs("forward"), c.runs);
    assert.deepEqual(runs("backwardWeight"), c.weightRuns);
    await run(gpu, [
      ...winogradForwardOp(gpu, g, { ...t, epilogue: { bias: t.bias } }, "test", tuning, options),
      ...winogradBackwardDataOp(gpu, g, t, "test", tuning, options),
      ...winogradBackwardWeightOp(gpu, g, t, "test", tuning, options),
    ]);
    const tolerance = TOLERANCES[c.tile === 2 ? "winograd" : "winograd4x4"];
    const expected = conv2dForwardReference(data.input, data.weight, data.bias, g);
    assertClose(await read(gpu, t.output), expected, tolerance, "output");
    const expectedGrad = conv2dBackwardDataReference(data.gradOutput, data.weight, g);
    assertClose(await read(gpu, t.gradInput), expectedGrad, tolerance, "gradInput");
    const expectedWeight = conv2dBackwardWeightReference(data.input, data.gradOutput, g).gradWeight;
    assertClose(await read(gpu, t.gradWeight), expectedWeight, tolerance, "gradWeight");
    // The scratch given fits this op, so planning it again allocates nothing.
    const allocated = gpu.bytesAllocated;
    winogradForwardOp(gpu, g, { ...t, epilogue: { bias: t.bias } }, "test", tuning, options);
    assert.equal(gpu.bytesAllocated, allocated);
  });
}

Deno.test("conv2d winograd: strided, dilated and grouped convolutions stay direct", async () => {
  const gpu = await testGpu();
  const tuning: ConvTuning = { algorithm: "winograd" };
  for (const options of [conv3x3(4, 2), conv3x3(4, 1, 2), conv3x3(4, 1, 1, 2)]) {
    const g = conv2dGeometry([1, 4, 7, 9], options);
    assert.equal(useWinograd(gpu, tuning, g, "forward"), false);
    assert.equal(useWinograd(gpu, tuning, g, "backwardData"), false);
    assert.equal(useWinograd(gpu, tuning, g, "backwardWeight"), false);
  }
});

Deno.test("conv2d winograd: chosen by measured cost, direct until measured", async () => {
  const gpu = await testGpu();
  const g = conv2dGeometry([8, 64, 16, 16], conv3x3(64));
  const measure = (
    direct: number,
    winogradGemm: number,
    msPerValue: number,
    msPerValue4 = 1,
  ): ConvTuning => ({
    results: Object.fromEntries(GEMM_KINDS.map((kind) => {
      const gflops = kind === "winograd" ? winogradGemm : direct;
      return [kind, [{ tiling: TILING_CANDIDATES[1], gflops }]];
    })),
    winogradTransformMsPerValue: msPerValue,
    winograd4TransformMsPerValue: msPerValue4,
  });
  // Equal GEMM speed and cheap transforms: 2.25 times fewer multiply-adds win.
  let tuning = measure(10, 10, 1e-9);
  assert.equal(useWinograd(gpu, tuning, g, "forward"), true);
  assert.equal(useWinograd(gpu, tuning, g, "backwardData"), true);
  assert.equal(useWinograd(gpu, tuning, g, "backwardWeight"), true);
  // Transforms as dear as the whole direct GEMM: direct.
  tuning = measure(10, 10, 1e-3);
  assert.equal(useWinograd(gpu, tuning, g, "forward"), false);
  assert.equal(useWinograd(gpu, tuning, g, "backwardWeight"), false);
  // A 3-channel input makes the GEMMs too shallow for Winograd to pay its transforms.
  tuning = measure(10, 10, 2e-6);
  assert.equal(useWinograd(gpu, tuning, g, "forward"), true);
  assert.equal(useWinograd(gpu, tuning, conv2dGeometry([8, 3, 16, 16], conv3x3(64)), "forward"), false);
  // Cheap transforms of both sizes: the 4x4 tiles' 4 times fewer multiply-adds than direct win on 16x16
  // images, and on a batch of 16 4x4 images, whose 16 columns (one tile per image) four points share a
  // workgroup's 64, but not on a batch of 3, whose 3 columns take a quarter of a tile of 16 where the 2x2
  // tiles' 12 take three.
  tuning = measure(10, 10, 1e-9, 1e-9);
  assert.equal(winogradTile(gpu, tuning, g, "forward"), 4);
  assert.equal(winogradTile(gpu, tuning, g, "backwardData"), 4);
  assert.equal(winogradTile(gpu, tuning, g, "backwardWeight"), 4);
  assert.equal(winogradTile(gpu, tuning, conv2dGeometry([16, 64, 4, 4], conv3x3(64)), "forward"), 4);
  assert.equal(winogradTile(gpu, tuning, conv2dGeometry([3, 64, 4, 4], conv3x3(64)), "forward"), 2);
  // Dispatches as dear as the whole GEMM: Winograd's three do not pay.
  assert.equal(winogradTile(gpu, { ...tuning, dispatchMs: 10 }, g, "forward"), undefined);
  // A tuning without the 4x4 measurement (made before it existed) keeps to 2x2 tiles.
  const { winograd4TransformMsPerValue: _, ...older } = measure(10, 10, 1e-9, 1e-9);
  assert.equal(winogradTile(gpu, older, g, "forward"), 2);
});

Deno.test("conv2d winograd: both backward passes match central differences of the CPU forward", async () => {
  const gpu = await testGpu();
  const tuning = fixedTiling(TILING_CANDIDATES[1], ["winograd"], { algorithm: "winograd" });
  const { g, data, t } = setup(gpu, [2, 3, 5, 3], conv3x3(4), 5, false);
  await run(gpu, [
    ...conv2dBackwardData(gpu, g, t, "fd", tuning),
    ...conv2dBackwardWeight(gpu, g, t, "fd", tuning),
  ]);
  // loss = sum(output * gradOutput), so its gradients are what the backward passes compute.
  const loss = (input: ArrayLike<number>, weight: ArrayLike<number>) => {
    const output = conv2dForwardReference(input, weight, undefined, g);
    return output.reduce((sum, y, i) => sum + y * data.gradOutput[i], 0);
  };
  assertClose(
    await read(gpu, t.gradInput),
    centralDifferences((input) => loss(input, data.weight), data.input),
    TOLERANCES.winograd,
    "gradInput",
  );
  assertClose(
    await read(gpu, t.gradWeight),
    centralDifferences((weight) => loss(data.input, weight), data.weight),
    TOLERANCES.winograd,
    "gradWeight",
  );
});

Deno.test("conv2d winograd: the autotune measures the path and remeasures older results", async () => {
  const gpu = await testGpu();
  const candidates = [TILING_CANDIDATES[1], TILING_CANDIDATES[4]];
  // A strided geometry: Winograd is timed on its 3x3 stride-1 counterpart.
  const geometry = conv2dGeometry([2, 8, 6, 6], conv3x3(8, 2));
  const bytes = gpu.bytesAllocated;
  const tuning = await tuneConvolutions(gpu, { candidates, geometry, minMilliseconds: 1 });
  assert.equal(gpu.bytesAllocated, bytes, "the tuning buffers are released");
  assert.deepEqual(tuning.results.winograd.map((r) => r.tiling), candidates);
  assert.ok(tuning.results.winograd.every((r) => r.gflops > 0 && Number.isFinite(r.gflops)));
  const { winogradTransformMsPerValue, winograd4TransformMsPerValue, dispatchMs } = tuning;
  for (const ms of [winogradTransformMsPerValue, winograd4TransformMsPerValue, dispatchMs]) {
    assert.ok(ms > 0 && Number.isFinite(ms));
  }
  assert.equal(await tuneConvolutions(gpu, { previous: tuning }), tuning);
  const { winograd: _, ...olderResults } = tuning.results;
  const older = { adapterKey: tuning.adapterKey, results: olderResults } as unknown as typeof tuning;
  const again = await tuneConvolutions(gpu, { previous: older, candidates, geometry, minMilliseconds: 1 });
  assert.notEqual(again, older);
  assert.equal(again.results.winograd.length, candidates.length);
});
