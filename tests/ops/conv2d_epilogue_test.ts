import assert from "node:assert/strict";
import { numel, submit, tensor } from "../../src/gpu/kernel.ts";
import { conv2dForward, conv2dGeometry, type Conv2dOptions } from "../../src/ops/conv2d.ts";
import { denseApplies } from "../../src/ops/_conv_dense.ts";
import {
  fixedTiling,
  FORWARD_WINDOW_CANDIDATES,
  TILING_CANDIDATES,
  UNTUNED,
} from "../../src/ops/_conv_strategy.ts";
import { conv2dForwardReference } from "../reference/conv2d.ts";
import { batchNormEvalReference } from "../reference/batchnorm.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;
const EPS = 1e-5;

function conv(outChannels: number, k: number, s = 1, p = 0): Conv2dOptions {
  return { outChannels, kernelSize: [k, k], stride: [s, s], padding: [p, p], dilation: [1, 1], groups: 1 };
}

const WINOGRAD = fixedTiling(TILING_CANDIDATES[1], ["winograd"], { algorithm: "winograd" });

/** Each kernel family the forward pass can take, with the path its dispatch labels show. */
const CASES = [
  { name: "direct, 3x3 stride 2", input: [2, 5, 7, 9], options: conv(6, 3, 2, 1), tuning: UNTUNED },
  { name: "direct, 1x1", input: [3, 6, 5, 5], options: conv(5, 1), tuning: UNTUNED },
  {
    name: "sliding windows, 3x3",
    input: [2, 4, 6, 7],
    options: conv(5, 3, 1, 1),
    // Two output rows of 4 channels: quick to compile.
    tuning: fixedTiling(FORWARD_WINDOW_CANDIDATES.find((t) => t.rows === 4 && t.outputRows === 2)!, [
      "forward",
    ]),
  },
  { name: "winograd", input: [2, 4, 6, 7], options: conv(5, 3, 1, 1), tuning: WINOGRAD, path: "winograd" },
  { name: "dense, 3x3 on 2x2 images", input: [3, 6, 2, 2], options: conv(7, 3, 1, 1), tuning: UNTUNED },
];

for (const [index, c] of CASES.entries()) {
  for (const residual of [false, true]) {
    Deno.test(`conv2d epilogue, ${c.name}: BatchNorm${residual ? " + residual" : ""} + ReLU`, async () => {
      const gpu = await testGpu();
      const g = conv2dGeometry(c.input, c.options);
      const outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
      const seed = 100 * index;
      const data = {
        input: randomArray(numel(c.input), seed),
        weight: randomArray(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, seed + 1),
        residual: randomArray(numel(outShape), seed + 2),
        normWeight: randomArray(g.outChannels, seed + 3).map((v) => v + 1.5),
        normBias: randomArray(g.outChannels, seed + 4),
        runningMean: randomArray(g.outChannels, seed + 5),
        runningVar: randomArray(g.outChannels, seed + 6, 0.5).map((v) => v + 1),
      };
      const upload = (name: keyof typeof data, shape: number[]) =>
        tensor(gpu.upload(name, data[name]), shape);
      const vector = (name: keyof typeof data) => upload(name, [g.outChannels]);
      const output = tensor(gpu.upload("output", randomArray(numel(outShape), seed + 7)), outShape);
      const dispatches = conv2dForward(
        gpu,
        g,
        {
          input: upload("input", c.input),
          weight: upload("weight", [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth]),
          output,
          residual: residual ? upload("residual", outShape) : undefined,
          normWeight: vector("normWeight"),
          normBias: vector("normBias"),
          runningMean: vector("runningMean"),
          runningVar: vector("runningVar"),
        },
        "conv",
        c.tuning,
        { normEps: EPS, relu: true },
      );
      const labels = dispatches.map((d) => d.label).join();
      assert.equal(labels.includes("winograd"), c.path === "winograd", labels);
      assert.equal(labels.includes("unroll"), denseApplies(g), labels);
      submit(gpu, dispatches);
      const convolved = conv2dForwardReference(data.input, data.weight, undefined, g);
      const s = { batch: g.batch, channels: g.outChannels, spatial: g.outHeight * g.outWidth };
      const normalised = batchNormEvalReference(convolved, s, {
        weight: data.normWeight,
        bias: data.normBias,
        runningMean: data.runningMean,
        runningVar: data.runningVar,
      }, { eps: EPS, relu: false });
      const expected = normalised.map((v, i) => Math.max(v + (residual ? data.residual[i] : 0), 0));
      assertClose(await gpu.readFloats(output.buffer, 0, numel(outShape)), expected, TOLERANCE, "output");
    });
  }
}

Deno.test("conv2d epilogue: a half-given BatchNorm is refused, naming what is missing", async () => {
  const gpu = await testGpu();
  const g = conv2dGeometry([1, 2, 4, 4], conv(2, 1));
  const t = (n: number) => tensor(gpu.buffer("t", n * 4), [n]);
  assert.throws(
    () =>
      conv2dForward(
        gpu,
        g,
        { input: t(32), weight: t(4), output: t(32), normWeight: t(2) },
        "layer1.0.conv1",
        UNTUNED,
        {
          normEps: EPS,
        },
      ),
    /layer1\.0\.conv1: a folded BatchNorm needs normWeight, normBias, runningMean, runningVar and normEps, got normWeight, normEps/,
  );
});
