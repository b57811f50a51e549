import assert from "node:assert/strict";
import type { Parameter } from "../../src/nn/parameter.ts";
import { resnet18, resnet20, resnet50 } from "../../src/models/resnet.ts";
import { Inference, largestBatch } from "../../src/compile/inference.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { conv2dBackwardDataSplits, conv2dGeometry, UNTUNED } from "../../src/ops/conv2d.ts";
import { assertClose, random, randomArray, testGpu } from "../_gpu.ts";
import { modelReference } from "../reference/model.ts";
import { sgdStepReference } from "../reference/sgd.ts";
import { perturbBatchNorm } from "../train/_models.ts";

// float32 GPU against float64 CPU through a whole ResNet and back, relative to each tensor's largest value.
const GRADIENT_TOLERANCE = 1e-3;
const VALUE_TOLERANCE = 1e-4;

async function gpuValues(training: TrainingStep, p: Parameter, gradient = false): Promise<Float32Array> {
  const t = gradient ? training.model.gradient(p) : training.model.view(p);
  return await training.model.gpu.readFloats(t.buffer, t.offset / 4, p.size);
}

Deno.test("one SGD step of resnet20 equals the CPU reference: loss, gradients, parameters, running statistics", async () => {
  const gpu = await testGpu();
  const model = perturbBatchNorm(resnet20({ seed: 0 }), 21);
  const batch = 4, shape = [3, 16, 16] as const;
  const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
  const images = randomArray(batch * 3 * 16 * 16, 5);
  const labels = [3, 7, 0, 9];
  const expected = modelReference(model.trace(shape), images, batch, "train", labels);
  const before = new Map(model.namedParameters().map((p) => [p, p.data.slice()]));

  const training = await TrainingStep.compile(gpu, model, {
    batchSize: batch,
    inputShape: shape,
    optimizer: sgd,
    // The direct convolutions, which compute what the reference does to float32 rounding; Winograd's own
    // error is bounded per pass in tests/ops/conv2d_winograd_test.ts.
    tuning: UNTUNED,
  });
  training.setBatch(images, labels);
  training.step();
  const stats = await training.readStats();
  assert.ok(
    Math.abs(stats.loss - expected.loss!) < 1e-5 * Math.max(1, expected.loss!),
    `loss ${stats.loss} vs ${expected.loss}`,
  );
  assert.equal(stats.samples, 4);

  for (const p of model.parameters()) {
    assertClose(
      await gpuValues(training, p, true),
      expected.gradients.get(p)!,
      GRADIENT_TOLERANCE,
      `${p.name} gradient`,
    );
    const updated = sgdStepReference(before.get(p)!, expected.gradients.get(p)!, undefined, sgd).params;
    assertClose(await gpuValues(training, p), updated, VALUE_TOLERANCE, `${p.name} after the step`);
  }
  for (const [p, value] of expected.runningStats) {
    assertClose(await gpuValues(training, p), value, VALUE_TOLERANCE, p.name);
  }
  await training.model.download();
  assert.equal(model.stateDict().get("layer2.0.bn1.num_batches_tracked")!.data[0], 1n);
});

Deno.test("resnet50: a block input whose two readers both leave partial sums gets its gradient in one pass", async () => {
  const gpu = await testGpu();
  const batch = 2, shape = [3, 64, 64] as const;
  const training = await TrainingStep.compile(gpu, resnet50({ numClasses: 10 }), {
    batchSize: batch,
    inputShape: shape,
    optimizer: { lr: 0.1 },
  });
  // layer3's output (4x4 pixels) is read by layer4.0.conv1 and layer4.0.downsample.0, whose backward-data
  // GEMMs are both split: layer3.5.bn3's backward adds both sets of partial sums (batchnorm_test.ts checks
  // the values; a whole resnet50 at this size is too ill-conditioned for float32 to follow float64).
  const splits = (name: string) => {
    const node = training.graph.nodes.find((n) => n.name === name)!;
    if (node.spec.kind !== "conv2d") throw new Error(`${name} is not a convolution`);
    return conv2dBackwardDataSplits(gpu, conv2dGeometry([batch, 1024, 4, 4], node.spec));
  };
  assert.ok(splits("layer4.0.conv1") > 1 && splits("layer4.0.downsample.0") > 1);
  const labels = training.dispatches.map((d) => d.label);
  assert.deepEqual(labels.filter((l) => /gradient (split )?sum|residual add/.test(l)), []);
});

Deno.test("frozen backbone: only fc changes and backward stops at fc", async () => {
  const gpu = await testGpu();
  const model = resnet20({ numClasses: 4 });
  model.freeze((name) => !name.startsWith("fc."));
  const training = await TrainingStep.compile(gpu, model, {
    batchSize: 2,
    inputShape: [3, 8, 8],
    optimizer: { lr: 0.5 },
  });
  const full = await TrainingStep.compile(gpu, resnet20({ numClasses: 4 }), {
    batchSize: 2,
    inputShape: [3, 8, 8],
    optimizer: { lr: 0.5 },
  });
  assert.ok(
    training.dispatches.length < full.dispatches.length * 0.6,
    `${training.dispatches.length} vs ${full.dispatches.length} dispatches`,
  );
  const conv = model.namedParameters().find((p) => p.name === "layer3.2.conv2.weight")!;
  const fc = model.namedParameters().find((p) => p.name === "fc.weight")!;
  const convBefore = conv.data.slice(), fcBefore = fc.data.slice();
  training.setBatch(randomArray(2 * 3 * 64, 1), [1, 2]);
  training.step();
  await training.model.download();
  assert.deepEqual(conv.data, convBefore);
  assert.notDeepEqual(fc.data, fcBefore);
  assert.throws(() => training.model.gradient(conv), /has no gradient/);
});

Deno.test("memory stays flat over many steps", async () => {
  const gpu = await testGpu();
  const training = await TrainingStep.compile(gpu, resnet20({ numClasses: 3 }), {
    batchSize: 2,
    inputShape: [3, 8, 8],
    optimizer: { lr: 0.01, momentum: 0.9 },
  });
  training.setBatch(randomArray(2 * 192, 2), [0, 1]);
  const bytes = gpu.bytesAllocated;
  for (let i = 0; i < 100; i++) training.step();
  await training.readStats();
  assert.equal(gpu.bytesAllocated, bytes);
});

Deno.test("a NaN loss stops training with a clear error", async () => {
  const gpu = await testGpu();
  const model = resnet20({ numClasses: 3 });
  model.fc.bias!.data[1] = NaN;
  const training = await TrainingStep.compile(gpu, model, {
    batchSize: 2,
    inputShape: [3, 8, 8],
    optimizer: { lr: 0.01 },
  });
  training.setBatch(randomArray(2 * 192, 3), [0, 1]);
  training.step();
  await assert.rejects(training.readStats(), /training diverged: the loss became NaN at optimizer step 1/);
});

Deno.test("a small ResNet learns a generated data set with learnable classes", async () => {
  const gpu = await testGpu();
  const classes = 4, batch = 16, size = 8;
  const next = random(99);
  const prototypes = Array.from(
    { length: classes },
    () => Float32Array.from({ length: 3 * size * size }, next),
  );
  const makeBatch = () => {
    const labels = Array.from({ length: batch }, () => Math.floor((next() + 1) / 2 * classes) % classes);
    const images = new Float32Array(batch * 3 * size * size);
    labels.forEach((l, i) =>
      prototypes[l].forEach((v, j) => images[i * 3 * size * size + j] = v + next() * 0.8)
    );
    return { images, labels };
  };
  const training = await TrainingStep.compile(gpu, resnet20({ numClasses: classes, seed: 0 }), {
    batchSize: batch,
    inputShape: [3, size, size],
    optimizer: { lr: 0.05, momentum: 0.9 },
  });
  for (let step = 0; step < 30; step++) {
    const { images, labels } = makeBatch();
    training.setBatch(images, labels);
    training.step();
    if (step === 19) await training.readStats();
  }
  const last = await training.readStats();
  assert.ok(last.loss < 0.5 * Math.log(classes), `loss ${last.loss}`);
  assert.ok(last.accuracy > 0.8, `accuracy ${last.accuracy}`);
});

Deno.test("a batch too large for the adapter is refused at compile with the largest batch that fits", async () => {
  const gpu = await testGpu();
  const model = resnet18({ numClasses: 10 });
  // conv1's output, [64, 112, 112] floats per image, is the largest activation at 224 pixels.
  const largest = Math.floor(gpu.limits.maxStorageBufferBindingSize / (64 * 112 * 112 * 4));
  const expected = new RegExp(
    `^RangeError: batch size 4096 does not fit this adapter: conv1's output \\[4096, 64, 112, 112\\] would take 12544\\.0 MiB, ` +
      `more than its largest storage binding \\(.* MiB\\); the largest batch that fits is ${largest}$`,
  );
  const options = { batchSize: 4096, inputShape: [3, 224, 224], optimizer: { lr: 0.1 } };
  await assert.rejects(TrainingStep.compile(gpu, model, options), expected);
  await assert.rejects(Inference.compile(gpu, model, options), expected);
  assert.equal(largestBatch(gpu, model.trace([3, 224, 224])), largest);
});
