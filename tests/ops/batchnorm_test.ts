import assert from "node:assert/strict";
import {
  batchNormBackward,
  batchNormEval,
  batchNormScratchParts,
  type BatchNormShape,
  batchNormTrain,
  CHANNEL_LIMIT,
} from "../../src/ops/batchnorm.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { submit, type Tensor, tensor } from "../../src/gpu/kernel.ts";
import {
  batchNormBackwardReference,
  batchNormEvalReference,
  batchNormTrainReference,
} from "../reference/batchnorm.ts";
import { assertClose, centralDifferences, dot, randomArray, testGpu } from "../_gpu.ts";

const TOLERANCE = 1e-5;
const EPS = 1e-5;
const MOMENTUM = 0.1;

/** Batch 1 and 3, odd spatial sizes, channels not divisible by 4. */
const SHAPES: BatchNormShape[] = [
  { batch: 1, channels: 3, spatial: 5 * 7 },
  { batch: 3, channels: 5, spatial: 3 * 3 },
];
/** 3 * 11235 values per channel: over CHANNEL_LIMIT, so 17 slices, the last partly filled. */
const SLICED: BatchNormShape = { batch: 3, channels: 3, spatial: 105 * 107 };

/**
 * Shapes that reach each way of doing a channel (by its count of Vecs: 4 values when H * W is a multiple of
 * 4, else 1): one workgroup per channel up to CHANNEL_LIMIT (32768) Vecs, at the smallest workgroup and
 * with invocations looping over many Vecs; sliced beyond.
 */
const VARIANTS: Array<[string, BatchNormShape, number]> = [
  ["one workgroup per channel, vec4", { batch: 2, channels: 3, spatial: 4 * 5 }, 10],
  ["one workgroup per channel, scalar", { batch: 3, channels: 5, spatial: 5 * 7 }, 10],
  ["one workgroup per channel, looping", { batch: 3, channels: 2, spatial: 64 * 64 }, 10],
  ["sliced, vec4", { batch: 2, channels: 2, spatial: 4 * 16500 }, 10],
  ["sliced, scalar", { batch: 1, channels: 2, spatial: 32771 }, 10],
];

const count = (s: BatchNormShape) => s.batch * s.channels * s.spatial;
const shapeName = (s: BatchNormShape) => `[${s.batch}, ${s.channels}, ${s.spatial}]`;

/** Random layer data: an input whose channel means are far from 0, and parameters and statistics. */
function layerData(s: BatchNormShape, seed: number, offset: number) {
  const input = randomArray(count(s), seed).map((v, i) =>
    v + offset * (1 + Math.floor(i / s.spatial) % s.channels)
  );
  return {
    input,
    weight: randomArray(s.channels, seed + 1).map((v) => v + 1.5),
    bias: randomArray(s.channels, seed + 2),
    runningMean: randomArray(s.channels, seed + 3),
    runningVar: randomArray(s.channels, seed + 4, 0.5).map((v) => v + 1),
  };
}

const upload = (gpu: Gpu, name: string, data: Float32Array, shape: number[]) =>
  tensor(gpu.upload(name, data), shape);
const empty = (gpu: Gpu, name: string, shape: number[]) =>
  tensor(gpu.buffer(name, shape.reduce((a, b) => a * b) * 4), shape);
const read = (gpu: Gpu, t: Tensor) => gpu.readFloats(t.buffer, t.offset / 4, t.shape.reduce((a, b) => a * b));

/** Uploads a layer and runs its train-mode forward, adding `residual` when given. */
function trainOnGpu(
  gpu: Gpu,
  s: BatchNormShape,
  data: ReturnType<typeof layerData>,
  relu: boolean,
  residual?: Tensor,
) {
  const shape = [s.batch, s.channels, s.spatial];
  const t = {
    residual,
    input: upload(gpu, "x", data.input, shape),
    weight: upload(gpu, "weight", data.weight, [s.channels]),
    bias: upload(gpu, "bias", data.bias, [s.channels]),
    runningMean: upload(gpu, "running mean", data.runningMean, [s.channels]),
    runningVar: upload(gpu, "running var", data.runningVar, [s.channels]),
    output: empty(gpu, "y", shape),
    savedMean: empty(gpu, "saved mean", [s.channels]),
    savedInvStd: empty(gpu, "saved invstd", [s.channels]),
  };
  submit(gpu, batchNormTrain(gpu, s, t, { eps: EPS, momentum: MOMENTUM, relu }, "test"));
  return t;
}

/**
 * Uploads a layer with `runningMean` in place of its own and runs its eval-mode forward, adding `residual`
 * when given.
 */
function evalOnGpu(
  gpu: Gpu,
  s: BatchNormShape,
  data: ReturnType<typeof layerData>,
  runningMean: Float32Array,
  relu: boolean,
  residual?: Tensor,
): Tensor {
  const shape = [s.batch, s.channels, s.spatial];
  const output = empty(gpu, "y", shape);
  const t = {
    residual,
    input: upload(gpu, "x", data.input, shape),
    weight: upload(gpu, "weight", data.weight, [s.channels]),
    bias: upload(gpu, "bias", data.bias, [s.channels]),
    runningMean: upload(gpu, "running mean", runningMean, [s.channels]),
    runningVar: upload(gpu, "running var", data.runningVar, [s.channels]),
    output,
  };
  submit(gpu, batchNormEval(gpu, s, t, { eps: EPS, relu }, "test"));
  return output;
}

/** Runs the train-mode forward and checks its output and statistics against the reference. */
async function assertTrainMatches(
  gpu: Gpu,
  s: BatchNormShape,
  data: ReturnType<typeof layerData>,
  relu: boolean,
) {
  const t = trainOnGpu(gpu, s, data, relu);
  const expected = batchNormTrainReference(data.input, s, data, { eps: EPS, momentum: MOMENTUM, relu });
  assertClose(await read(gpu, t.output), expected.output, TOLERANCE, `output, relu ${relu}`);
  assertClose(await read(gpu, t.savedMean), expected.mean, TOLERANCE, "saved mean");
  assertClose(await read(gpu, t.savedInvStd), expected.invStd, TOLERANCE, "saved invstd");
  assertClose(await read(gpu, t.runningMean), expected.runningMean, TOLERANCE, "running mean");
  assertClose(await read(gpu, t.runningVar), expected.runningVar, TOLERANCE, "running var");
}

for (const s of SHAPES) {
  for (const relu of [false, true]) {
    Deno.test(`batch norm eval ${shapeName(s)} relu ${relu} matches the reference`, async () => {
      const gpu = await testGpu();
      const data = layerData(s, 10, 3);
      // Running statistics near the batch's, so that the output is of order 1.
      const runningMean = data.runningMean.map((v, c) => v + 3 * (c + 1));
      const output = evalOnGpu(gpu, s, data, runningMean, relu);
      const expected = batchNormEvalReference(data.input, s, { ...data, runningMean }, { eps: EPS, relu });
      assertClose(await read(gpu, output), expected, TOLERANCE, "output");
    });
  }
}

for (const [s, offset] of [[SHAPES[0], 10], [SHAPES[1], 10], [SLICED, 100]] as const) {
  for (const relu of [false, true]) {
    Deno.test(
      `batch norm train ${
        shapeName(s)
      } relu ${relu}, mean offset ${offset}: output, saved and running statistics`,
      async () => {
        const gpu = await testGpu();
        const data = layerData(s, 20, offset);
        await assertTrainMatches(gpu, s, data, relu);
      },
    );
  }
}

/** Train forward, then backward for `gradOutput` into the `wanted` gradients (filled with garbage first). */
async function backwardOnGpu(
  s: BatchNormShape,
  data: ReturnType<typeof layerData>,
  gradOutput: Float32Array,
  relu: boolean,
  wanted: { input: boolean; weight: boolean; bias: boolean },
) {
  const gpu = await testGpu();
  const t = trainOnGpu(gpu, s, data, relu);
  const shape = [s.batch, s.channels, s.spatial];
  const garbage = (name: string, shape: number[]) =>
    upload(gpu, name, randomArray(shape.reduce((a, b) => a * b), 99, 1e3), shape);
  const gradInput = wanted.input ? garbage("dx", shape) : undefined;
  const gradWeight = wanted.weight ? garbage("dweight", [s.channels]) : undefined;
  const gradBias = wanted.bias ? garbage("dbias", [s.channels]) : undefined;
  submit(
    gpu,
    batchNormBackward(
      gpu,
      s,
      {
        ...t,
        gradOutput: upload(gpu, "dy", gradOutput, shape),
        gradInput,
        gradWeight,
        gradBias,
      },
      { relu },
      "test",
    ),
  );
  return {
    gradInput: gradInput && await read(gpu, gradInput),
    gradWeight: gradWeight && await read(gpu, gradWeight),
    gradBias: gradBias && await read(gpu, gradBias),
  };
}

/** Runs backward into every gradient and checks them against the reference; returns them. */
async function assertBackwardMatches(
  s: BatchNormShape,
  data: ReturnType<typeof layerData>,
  gradOutput: Float32Array,
  relu: boolean,
) {
  const actual = await backwardOnGpu(s, data, gradOutput, relu, { input: true, weight: true, bias: true });
  const expected = batchNormBackwardReference(data.input, s, data.weight, data.bias, gradOutput, {
    eps: EPS,
    relu,
  });
  assertClose(actual.gradInput!, expected.gradInput, TOLERANCE, "grad input");
  assertClose(actual.gradWeight!, expected.gradWeight, TOLERANCE, "grad weight");
  assertClose(actual.gradBias!, expected.gradBias, TOLERANCE, "grad bias");
  return actual;
}

for (const s of SHAPES) {
  for (const relu of [false, true]) {
    Deno.test(
      `batch norm backward ${shapeName(s)} relu ${relu} matches the reference and finite differences`,
      async () => {
        const data = layerData(s, 30, 10);
        const gradOutput = randomArray(count(s), 31);
        const actual = await assertBackwardMatches(s, data, gradOutput, relu);
        // d sum(output * gradOutput) by central differences of the float64 forward.
        const loss = (input: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>) =>
          dot(
            batchNormTrainReference(input, s, { ...data, weight, bias }, {
              eps: EPS,
              momentum: MOMENTUM,
              relu,
            })
              .output,
            gradOutput,
          );
        assertClose(
          actual.gradInput!,
          centralDifferences((x) => loss(x, data.weight, data.bias), data.input),
          TOLERANCE,
          "grad input against finite differences",
        );
        assertClose(
          actual.gradWeight!,
          centralDifferences((w) => loss(data.input, w, data.bias), data.weight),
          TOLERANCE,
          "grad weight against finite differences",
        );
        assertClose(
          actual.gradBias!,
          centralDifferences((b) => loss(data.input, data.weight, b), data.bias),
          TOLERANCE,
          "grad bias against finite differences",
        );
      },
    );
  }
}

Deno.test("batch norm backward over several slices matches the reference", async () => {
  // A smaller mean offset than forward's: backward centres on the saved mean, whose float32 rounding
  // (as in PyTorch) shifts sum(g * xhat) by about ulp(mean) / std * sum(g).
  const data = layerData(SLICED, 40, 10);
  const gradOutput = randomArray(count(SLICED), 41);
  await assertBackwardMatches(SLICED, data, gradOutput, true);
});

Deno.test("batch norm backward computes only the gradients it is given", async () => {
  const s = SHAPES[1];
  const data = layerData(s, 50, 1);
  const gradOutput = randomArray(count(s), 51);
  const expected = batchNormBackwardReference(data.input, s, data.weight, data.bias, gradOutput, {
    eps: EPS,
    relu: false,
  });
  const inputOnly = await backwardOnGpu(s, data, gradOutput, false, {
    input: true,
    weight: false,
    bias: false,
  });
  assertClose(inputOnly.gradInput!, expected.gradInput, TOLERANCE, "grad input alone");
  const weightOnly = await backwardOnGpu(s, data, gradOutput, false, {
    input: false,
    weight: true,
    bias: false,
  });
  assertClose(weightOnly.gradWeight!, expected.gradWeight, TOLERANCE, "grad weight alone");
  const parameters = await backwardOnGpu(s, data, gradOutput, false, {
    input: false,
    weight: true,
    bias: true,
  });
  assertClose(parameters.gradWeight!, expected.gradWeight, TOLERANCE, "grad weight without grad input");
  assertClose(parameters.gradBias!, expected.gradBias, TOLERANCE, "grad bias without grad input");
  const gpu = await testGpu();
  const t = trainOnGpu(gpu, s, data, false);
  assert.deepEqual(batchNormBackward(gpu, s, { ...t, gradOutput: t.output }, { relu: false }, "test"), []);
});

Deno.test("batch norm rejects one value per channel in train mode, and tensors of wrong sizes", async () => {
  const gpu = await testGpu();
  const s = { batch: 1, channels: 2, spatial: 1 };
  const vector = empty(gpu, "v", [2]);
  const t = {
    input: vector,
    weight: vector,
    bias: vector,
    runningMean: vector,
    runningVar: vector,
    output: vector,
    savedMean: vector,
    savedInvStd: vector,
  };
  assert.throws(
    () => batchNormTrain(gpu, s, t, { eps: EPS, momentum: MOMENTUM, relu: false }, "bn1"),
    /bn1: batch norm in train mode needs more than 1 value per channel/,
  );
  assert.throws(
    () => batchNormEval(gpu, { batch: 1, channels: 3, spatial: 1 }, t, { eps: EPS, relu: false }, "bn1"),
    /bn1: batch norm input has 2 elements, expected 3/,
  );
});

for (const [name, s, offset] of VARIANTS) {
  Deno.test(`batch norm ${name} ${shapeName(s)}: eval, train and backward match the reference`, async () => {
    const gpu = await testGpu();
    const data = layerData(s, 60, offset);
    const runningMean = data.runningMean.map((v, c) => v + offset * (c + 1));
    const evalOutput = evalOnGpu(gpu, s, data, runningMean, true);
    assertClose(
      await read(gpu, evalOutput),
      batchNormEvalReference(data.input, s, { ...data, runningMean }, { eps: EPS, relu: true }),
      TOLERANCE,
      "eval output",
    );
    for (const relu of [false, true]) await assertTrainMatches(gpu, s, data, relu);
    const gradOutput = randomArray(count(s), 61);
    await assertBackwardMatches(s, data, gradOutput, true);
  });
}

Deno.test("batch norm backward with vec4 loads matches finite differences", async () => {
  const [, s] = VARIANTS[0];
  const data = layerData(s, 70, 10);
  const gradOutput = randomArray(count(s), 71);
  const actual = await backwardOnGpu(s, data, gradOutput, false, { input: true, weight: true, bias: false });
  const loss = (input: ArrayLike<number>, weight: ArrayLike<number>) =>
    dot(
      batchNormTrainReference(input, s, { ...data, weight }, { eps: EPS, momentum: MOMENTUM, relu: false })
        .output,
      gradOutput,
    );
  assertClose(
    actual.gradInput!,
    centralDifferences((x) => loss(x, data.weight), data.input),
    TOLERANCE,
    "grad input against finite differences",
  );
  assertClose(
    actual.gradWeight!,
    centralDifferences((w) => loss(data.input, w), data.weight),
    TOLERANCE,
    "grad weight against finite differences",
  );
});

Deno.test("the test shapes reach both ways of doing a channel", () => {
  const vecs = (s: BatchNormShape) => s.batch * (s.spatial % 4 === 0 ? s.spatial / 4 : s.spatial);
  for (const [name, s] of VARIANTS) {
    assert.equal(vecs(s) > CHANNEL_LIMIT, name.startsWith("sliced"), name);
    assert.equal(batchNormScratchParts(s).length, name.startsWith("sliced") ? 2 : 0, name);
  }
  assert.ok(vecs(SLICED) > CHANNEL_LIMIT);
});

/**
 * The fused residual block tail: y = relu(bn(x) + residual) in train and eval mode, and its backward from
 * two gradients of y (summed as read), which also writes the residual's gradient over the first.
 */
for (const s of [SHAPES[1], VARIANTS[0][1], SLICED]) {
  Deno.test(`batch norm ${shapeName(s)} with a residual and ReLU, and two output gradients`, async () => {
    const gpu = await testGpu();
    const data = layerData(s, 80, 2);
    const shape = [s.batch, s.channels, s.spatial];
    const residualValues = randomArray(count(s), 81);
    const residual = upload(gpu, "residual", residualValues, shape);
    const withResidual = (values: ArrayLike<number>) =>
      Float64Array.from(values, (v, i) => Math.max(v + residualValues[i], 0));

    const runningMean = data.runningMean.map((v, c) => v + 2 * (c + 1));
    const evalOutput = evalOnGpu(gpu, s, data, runningMean, true, residual);
    const evalExpected = batchNormEvalReference(data.input, s, { ...data, runningMean }, {
      eps: EPS,
      relu: false,
    });
    assertClose(await read(gpu, evalOutput), withResidual(evalExpected), TOLERANCE, "eval output");

    const t = trainOnGpu(gpu, s, data, true, residual);
    const expected = batchNormTrainReference(data.input, s, data, {
      eps: EPS,
      momentum: MOMENTUM,
      relu: false,
    });
    const output = withResidual(expected.output);
    assertClose(await read(gpu, t.output), output, TOLERANCE, "train output");
    assertClose(await read(gpu, t.runningVar), expected.runningVar, TOLERANCE, "running var");

    const g1 = randomArray(count(s), 82);
    const g2 = randomArray(count(s), 83);
    const gradInput = empty(gpu, "dx", shape);
    const gradOutput = upload(gpu, "dy", g1, shape);
    const gradWeight = empty(gpu, "dweight", [s.channels]);
    submit(
      gpu,
      batchNormBackward(
        gpu,
        s,
        {
          ...t,
          gradOutput,
          gradExtra: upload(gpu, "dy'", g2, shape),
          gradInput,
          gradWeight,
        },
        { relu: true, writeResidual: true },
        "test",
      ),
    );
    const masked = Float64Array.from(g1, (g, i) => output[i] > 0 ? g + g2[i] : 0);
    const expectedGrads = batchNormBackwardReference(data.input, s, data.weight, data.bias, masked, {
      eps: EPS,
      relu: false,
    });
    assertClose(await read(gpu, gradOutput), masked, TOLERANCE, "grad residual, over grad output");
    assertClose(await read(gpu, gradInput), expectedGrads.gradInput, TOLERANCE, "grad input");
    assertClose(await read(gpu, gradWeight), expectedGrads.gradWeight, TOLERANCE, "grad weight");

    // The same with the first gradient as three partial sums (a split-K convolution's), added as read.
    const parts = [randomArray(count(s), 84), randomArray(count(s), 85)];
    const split = new Float32Array(3 * count(s));
    g1.forEach((g, i) => {
      split[i] = parts[0][i];
      split[count(s) + i] = parts[1][i];
      split[2 * count(s) + i] = g - parts[0][i] - parts[1][i];
    });
    const gradSplits = upload(gpu, "dy splits", split, [3, ...shape]);
    submit(
      gpu,
      batchNormBackward(
        gpu,
        s,
        { ...t, gradOutput: gradSplits, gradExtra: upload(gpu, "dy'", g2, shape), gradInput, gradWeight },
        { relu: true, writeResidual: true, gradSplits: 3 },
        "test",
      ),
    );
    const first = (await read(gpu, gradSplits)).slice(0, count(s));
    assertClose(first, masked, TOLERANCE, "split: grad residual, over the first partial sum");
    assertClose(await read(gpu, gradInput), expectedGrads.gradInput, TOLERANCE, "split: grad input");
    assertClose(await read(gpu, gradWeight), expectedGrads.gradWeight, TOLERANCE, "split: grad weight");

    // And with the second as two partial sums of its own (a block input read by two split convolutions).
    const extraPart = randomArray(count(s), 86);
    const extraSplit = new Float32Array([...extraPart, ...Float32Array.from(g2, (g, i) => g - extraPart[i])]);
    const bothSplit = upload(gpu, "dy splits", split, [3, ...shape]);
    const extraTensor = upload(gpu, "dy' splits", extraSplit, [2, ...shape]);
    submit(
      gpu,
      batchNormBackward(
        gpu,
        s,
        { ...t, gradOutput: bothSplit, gradExtra: extraTensor, gradInput, gradWeight },
        { relu: true, writeResidual: true, gradSplits: 3, extraSplits: 2 },
        "test",
      ),
    );
    const both = (await read(gpu, bothSplit)).slice(0, count(s));
    assertClose(both, masked, TOLERANCE, "both split: grad residual, over the first partial sum");
    assertClose(await read(gpu, gradInput), expectedGrads.gradInput, TOLERANCE, "both split: grad input");
    assertClose(await read(gpu, gradWeight), expectedGrads.gradWeight, TOLERANCE, "both split: grad weight");
    assert.throws(
      () =>
        batchNormBackward(gpu, s, { ...t, gradOutput: bothSplit, gradExtra: extraTensor }, {
          relu: true,
          gradSplits: 3,
        }, "bn2"),
      new RegExp(`bn2: batch norm gradExtra has ${2 * count(s)} elements, expected ${count(s)}`),
    );
  });
}
