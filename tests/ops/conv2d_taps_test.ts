import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { numel, submit, type Tensor, tensor } from "../../src/gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dGeometry,
  conv2dGeometry,
  type Conv2dOptions,
} from "../../src/ops/conv2d.ts";
import { gemmProblem, liveTapCount, liveTaps, weightSplit } from "../../src/ops/_conv_kernels.ts";
import { axes } from "../../src/ops/_window.ts";
import { fixedTiling, TILING_CANDIDATES } from "../../src/ops/_conv_strategy.ts";
import {
  conv2dBackwardDataReference,
  conv2dBackwardWeightReference,
  conv2dForwardReference,
} from "../reference/conv2d.ts";
import { assertClose, centralDifferences, dot, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;

function conv(outChannels: number, k: number, s: number, p: number): Conv2dOptions {
  return { outChannels, kernelSize: [k, k], stride: [s, s], padding: [p, p], dilation: [1, 1], groups: 1 };
}

/**
 * Tilings by index into TILING_CANDIDATES: register-only (4, 1) and staged (6, 7), all quick to compile.
 * Each row: name, input shape, [out channels, kernel, stride, padding], tiling, live taps.
 */
const CASES: Array<[string, number[], [number, number, number, number], number, number]> = [
  ["3x3 padding 1 on 1x1, stride 1", [3, 4, 1, 1], [6, 3, 1, 1], 4, 1],
  ["3x3 padding 1 on 1x1, stride 2", [2, 5, 1, 1], [3, 3, 2, 1], 6, 1],
  ["3x3 padding 1 on 2x2, stride 1", [2, 4, 2, 2], [5, 3, 1, 1], 1, 9],
  ["3x3 padding 1 on 2x2, stride 2", [3, 5, 2, 2], [6, 3, 2, 1], 7, 4],
  ["7x7 padding 3 on 2x2, stride 2", [2, 3, 2, 2], [4, 7, 2, 3], 4, 4],
  ["7x7 padding 3 on 2x2, stride 1", [2, 3, 2, 2], [4, 7, 1, 3], 7, 9],
  ["3x3 padding 1 on 1x1, batch 2048: split backward-weight", [2048, 4, 1, 1], [5, 3, 1, 1], 1, 1],
];

/** Indices of the weight entries of `g` whose tap lies outside the live windows. */
function deadEntries(g: Conv2dGeometry): number[] {
  const [y, x] = axes(g).map(liveTaps);
  const dead: number[] = [];
  const taps = g.kernelHeight * g.kernelWidth;
  for (let i = 0; i < g.outChannels * g.inChannels * taps; i++) {
    const ky = Math.floor((i % taps) / g.kernelWidth), kx = i % g.kernelWidth;
    if (ky < y.first || ky >= y.first + y.count || kx < x.first || kx >= x.first + x.count) dead.push(i);
  }
  return dead;
}

/** Random data of seeds `seed ..` for `g`, uploaded, and zeroed output tensors. */
function upload(gpu: Gpu, g: Conv2dGeometry, seed: number) {
  const inShape = [g.batch, g.inChannels, g.inHeight, g.inWidth];
  const outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const weightShape = [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth];
  const input = randomArray(numel(inShape), seed), weight = randomArray(numel(weightShape), seed + 1);
  const bias = randomArray(g.outChannels, seed + 2), gradOutput = randomArray(numel(outShape), seed + 3);
  const fresh = (label: string, shape: number[]) => tensor(gpu.buffer(label, numel(shape) * 4), shape);
  const t = {
    input: tensor(gpu.upload("input", input), inShape),
    weight: tensor(gpu.upload("weight", weight), weightShape),
    bias: tensor(gpu.upload("bias", bias), [g.outChannels]),
    output: fresh("output", outShape),
    gradOutput: tensor(gpu.upload("gradOutput", gradOutput), outShape),
    gradInput: fresh("gradInput", inShape),
    gradWeight: fresh("gradWeight", weightShape),
  };
  return { data: { input, weight, bias, gradOutput }, t };
}

/** Asserts `gradWeight` against the reference, with every entry of a dead tap exactly zero. */
function assertWeightGradient(
  gradWeight: Float32Array,
  input: Float32Array,
  gradOutput: Float32Array,
  g: Conv2dGeometry,
): void {
  const expected = conv2dBackwardWeightReference(input, gradOutput, g).gradWeight;
  assertClose(gradWeight, expected, TOLERANCE, "gradWeight");
  for (const i of deadEntries(g)) assert.equal(gradWeight[i], 0, `gradWeight[${i}] of a dead tap`);
}

async function read(t: Tensor): Promise<Float32Array> {
  const gpu = await testGpu();
  return await gpu.readFloats(t.buffer, t.offset / 4, numel(t.shape));
}

Deno.test("conv2d taps: the live window is where some output's tap lands inside the image", () => {
  const window = (inSize: number, kernel: number, stride: number, pad: number, dilation = 1) => {
    const outSize = Math.floor((inSize + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
    const { first, count } = liveTaps({ inSize, outSize, kernel, stride, pad, dilation });
    return [first, count];
  };
  // [inSize, kernel, stride, pad, dilation] -> [first, count]
  const windows: Array<[[number, number, number, number, number?], [number, number]]> = [
    [[1, 3, 1, 1], [1, 1]],
    [[1, 3, 2, 1], [1, 1]],
    [[2, 3, 1, 1], [0, 3]],
    [[2, 3, 2, 1], [1, 2]],
    [[2, 7, 2, 3], [3, 2]],
    [[2, 7, 1, 3], [2, 3]],
    [[32, 7, 2, 3], [0, 7]],
    [[1, 3, 1, 2, 2], [1, 1]],
    // Taps 0 and 2 land (on outputs 1 and 0), tap 1 between them never does: the window spans it.
    [[1, 3, 10, 10, 5], [0, 3]],
  ];
  for (const [sizes, expected] of windows) assert.deepEqual(window(...sizes), expected, `window(${sizes})`);
  const g = conv2dGeometry([64, 512, 1, 1], conv(512, 3, 1, 1));
  assert.equal(liveTapCount(g), 1);
  assert.deepEqual(gemmProblem(g, "forward"), { rows: 512, columns: 64, depth: 512, groups: 1 });
  assert.deepEqual(gemmProblem(g, "backwardWeight"), { rows: 512, columns: 512, depth: 64, groups: 1 });
});

for (const [name, inputShape, [outChannels, k, stride, pad], tilingIndex, live] of CASES) {
  const tiling = TILING_CANDIDATES[tilingIndex];
  Deno.test(`conv2d taps: ${name}, tiling ${Object.values(tiling).join("/")}`, async () => {
    const gpu = await testGpu();
    const tuning = fixedTiling(tiling);
    const g = conv2dGeometry(inputShape, conv(outChannels, k, stride, pad));
    assert.equal(liveTapCount(g), live);
    const { data: { input, weight, bias, gradOutput }, t } = upload(gpu, g, 1);
    // Stale values, in the dead taps' entries too, must be overwritten.
    gpu.write(t.gradInput.buffer, randomArray(t.gradInput.buffer.size / 4, 99));
    gpu.write(t.gradWeight.buffer, randomArray(t.gradWeight.buffer.size / 4, 98));
    if (name.includes("split")) assert.ok(weightSplit(gpu, g, tiling).splits > 1);
    await gpu.checked("conv2d taps test", () =>
      submit(gpu, [
        ...conv2dForward(gpu, g, t, "test", tuning),
        ...conv2dBackwardData(gpu, g, t, "test", tuning),
        ...conv2dBackwardWeight(gpu, g, t, "test", tuning),
      ]));
    assertClose(await read(t.output), conv2dForwardReference(input, weight, bias, g), TOLERANCE, "output");
    assertClose(
      await read(t.gradInput),
      conv2dBackwardDataReference(gradOutput, weight, g),
      TOLERANCE,
      "gradInput",
    );
    const dead = deadEntries(g).length;
    assert.equal(dead, numel(t.weight.shape) * (1 - live / (g.kernelHeight * g.kernelWidth)));
    assertWeightGradient(await read(t.gradWeight), input, gradOutput, g);
  });
}

Deno.test("conv2d taps: a gradient whose dead taps are already zero takes no fill pass", async () => {
  const gpu = await testGpu();
  const tuning = fixedTiling(TILING_CANDIDATES[4]);
  const g = conv2dGeometry([3, 4, 1, 1], conv(6, 3, 1, 1));
  const { data: { input, gradOutput }, t } = upload(gpu, g, 7);
  const labels = (deadTapsZeroed: boolean) =>
    conv2dBackwardWeight(gpu, g, { ...t, deadTapsZeroed }, "test", tuning).map((d) => d.label);
  assert.deepEqual(labels(false), ["test: conv2d backward-weight", "test: conv2d backward-weight dead taps"]);
  assert.deepEqual(labels(true), ["test: conv2d backward-weight"]);
  // Twice, as in consecutive training steps, into the freshly zeroed buffer.
  for (let step = 0; step < 2; step++) {
    await gpu.checked(
      "conv2d taps zeroed",
      () => submit(gpu, conv2dBackwardWeight(gpu, g, { ...t, deadTapsZeroed: true }, "test", tuning)),
    );
  }
  assertWeightGradient(await read(t.gradWeight), input, gradOutput, g);
});

Deno.test("conv2d taps: backward on a 2x2 image, stride 2, matches central differences", async () => {
  const gpu = await testGpu();
  const tuning = fixedTiling(TILING_CANDIDATES[4]);
  const g = conv2dGeometry([2, 3, 2, 2], conv(4, 3, 2, 1));
  const { data: { input, weight, gradOutput }, t } = upload(gpu, g, 5);
  await gpu.checked(
    "conv2d taps fd",
    () =>
      submit(gpu, [
        ...conv2dBackwardData(gpu, g, t, "fd", tuning),
        ...conv2dBackwardWeight(gpu, g, t, "fd", tuning),
      ]),
  );
  // loss = sum(output * gradOutput), so its gradients are what the backward ops compute.
  const loss = (x: ArrayLike<number>, w: ArrayLike<number>) =>
    dot(conv2dForwardReference(x, w, undefined, g), gradOutput);
  assertClose(
    await read(t.gradInput),
    centralDifferences((x) => loss(x, weight), input),
    TOLERANCE,
    "gradInput",
  );
  assertClose(
    await read(t.gradWeight),
    centralDifferences((w) => loss(input, w), weight),
    TOLERANCE,
    "gradWeight",
  );
});
