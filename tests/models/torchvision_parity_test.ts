/**
 * Logits, gradients and updates against PyTorch's own numbers (fixtures made by tools/make_fixtures.py with
 * Debian's torch 1.13 / torchvision 0.14, weights from the deterministic generator in tests/_weights.ts).
 */
import assert from "node:assert/strict";
import { loadPth } from "../../src/io/pth.ts";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors.ts";
import {
  Bottleneck,
  ResNet,
  resnet18,
  resnet20,
  resnet34,
  resnet50,
  resnext50_32x4d,
  wide_resnet50_2,
} from "../../src/models/resnet.ts";
import { Inference } from "../../src/compile/inference.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import {
  loadForwardFixtures,
  loadResnet20Fixture,
  loadTrainFixture,
  type TrainFixture,
  type TrainStepFixture,
} from "../_fixtures.ts";
import { assertClose, testGpu } from "../_gpu.ts";
import { deterministicStateDict } from "../_weights.ts";

// The bar: max abs difference relative to the max abs logit.
const LOGIT_TOLERANCE = 1e-4;
// The bar for one SGD step: relative to the tensor's max abs value.
const STEP_TOLERANCE = 1e-3;
const ARCHS = { resnet18, resnet34, resnet50, resnext50_32x4d, wide_resnet50_2 };

for (const fixture of await loadForwardFixtures()) {
  Deno.test(`${fixture.name}: logits equal PyTorch's through a safetensors file`, async () => {
    const gpu = await testGpu();
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    await saveSafetensors(path, deterministicStateDict(fixture.stateDict, fixture.weightSeed));
    const model = ARCHS[fixture.arch as keyof typeof ARCHS]({ numClasses: fixture.numClasses });
    model.loadStateDict((await loadSafetensors(path)).tensors);
    const [batch, ...inputShape] = fixture.inputShape;
    const inference = await Inference.compile(gpu, model, { batchSize: batch, inputShape });
    assertClose(await inference.run(fixture.input), fixture.logits, LOGIT_TOLERANCE, "logits");
    await Deno.remove(path);
  });
}

Deno.test("resnet20: .pth, safetensors and F16 safetensors written by PyTorch give PyTorch's logits", async () => {
  const gpu = await testGpu();
  const fixture = await loadResnet20Fixture();
  const [batch, ...inputShape] = fixture.inputShape;
  for (
    const [source, dict] of [
      ["pth", await loadPth(fixture.pth)],
      ["safetensors", (await loadSafetensors(fixture.safetensors)).tensors],
    ] as const
  ) {
    const model = resnet20();
    model.loadStateDict(dict, { source });
    const inference = await Inference.compile(gpu, model, { batchSize: batch, inputShape });
    assertClose(await inference.run(fixture.input), fixture.logits, LOGIT_TOLERANCE, `${source} logits`);
  }
  const half = resnet20();
  half.loadStateDict((await loadSafetensors(fixture.safetensorsF16)).tensors);
  const inference = await Inference.compile(gpu, half, { batchSize: batch, inputShape });
  // F16 weights: PyTorch's logits came from the F32 weights, so only rounding-level agreement.
  assertClose(await inference.run(fixture.input), fixture.logits, 2e-2, "F16 logits");
});

/** Compiles SGD training of `model` as `fixture` trained it. */
function compileTraining(gpu: Awaited<ReturnType<typeof testGpu>>, model: ResNet, fixture: TrainFixture) {
  model.loadStateDict(deterministicStateDict(fixture.stateDict, fixture.weightSeed));
  const [batch, ...inputShape] = fixture.inputShape;
  return TrainingStep.compile(gpu, model, {
    batchSize: batch,
    inputShape,
    optimizer: { lr: fixture.lr, momentum: fixture.momentum, weightDecay: fixture.weightDecay },
  });
}

/** Runs `step` and checks its loss against PyTorch's. */
async function checkLoss(training: TrainingStep, step: TrainStepFixture, index: number): Promise<void> {
  training.setBatch(step.input, step.labels);
  training.step();
  const stats = await training.readStats();
  assert.ok(
    Math.abs(stats.loss - step.loss) <= STEP_TOLERANCE * Math.abs(step.loss),
    `step ${index}: loss ${stats.loss} vs ${step.loss}`,
  );
}

/**
 * Checks the gradients and updated parameters (sampled and whole) and the BatchNorm statistics after a
 * step against PyTorch's.
 */
async function checkUpdate(
  training: TrainingStep,
  model: ResNet,
  step: TrainStepFixture,
  index: number,
): Promise<void> {
  // Read back as a user would: gradients by name, then the parameters and buffers into the host model.
  const gradients = await training.model.downloadGradients();
  await training.model.download();
  const state = model.stateDict();
  for (const [name, samples] of step.samples) {
    for (
      const [kind, full, expected] of [
        ["gradient", gradients.get(name)!, samples.grad],
        ["value", state.get(name)!.data as Float32Array, samples.value],
      ] as const
    ) {
      const scale = full.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const error = samples.indices.reduce((m, i, k) => Math.max(m, Math.abs(full[i] - expected[k])), 0) /
        scale;
      assert.ok(error <= STEP_TOLERANCE, `step ${index}: ${name} ${kind}: relative error ${error}`);
      const whole = kind === "gradient" ? step.grad.get(name) : step.value.get(name);
      if (whole) assertClose(full, whole, STEP_TOLERANCE, `step ${index}: ${name} ${kind} (whole tensor)`);
    }
  }
  for (const [module, mean] of step.runningMean) {
    assertClose(
      state.get(`${module}.running_mean`)!.data as Float32Array,
      mean,
      STEP_TOLERANCE,
      `${module}.running_mean`,
    );
    assertClose(
      state.get(`${module}.running_var`)!.data as Float32Array,
      step.runningVar.get(module)!,
      STEP_TOLERANCE,
      `${module}.running_var`,
    );
    assert.equal(
      state.get(`${module}.num_batches_tracked`)!.data[0],
      BigInt(step.numBatchesTracked.get(module)!),
    );
  }
}

Deno.test("resnet18: two SGD steps equal PyTorch's gradients, parameters and running statistics", async () => {
  const gpu = await testGpu();
  const fixture = await loadTrainFixture();
  const model = resnet18({ numClasses: fixture.numClasses });
  const training = await compileTraining(gpu, model, fixture);
  // The split-K partial sums of backward-data and the two gradients of each block input reach the
  // BatchNorm and max-pool backward passes unsummed: both add them as they read.
  const labels = training.dispatches.map((d) => d.label);
  assert.ok(labels.some((l) => l.endsWith("conv2d backward-data")));
  assert.deepEqual(labels.filter((l) => /gradient (split )?sum|residual add/.test(l)), []);
  const count = (suffix: string) => labels.filter((l) => l.endsWith(suffix)).length;
  // The dense path of layer3's 2x2-pixel convolutions leaves its partial sums too, and its backward-data
  // reads the weight that forward unrolled.
  assert.ok(count("forward unroll") > 0);
  assert.equal(count("backward-data split sum") + count("backward-data unroll"), 0);
  // layer4's 3x3 kernels over 1x1 pixels have dead taps, whose gradient entries stay zero without a fill.
  assert.equal(count("dead taps"), 0);
  for (const [index, step] of fixture.steps.entries()) {
    await checkLoss(training, step, index);
    // After the first update (lr 0.1, loss 2.3 -> 6.3) the gradients are ill-conditioned: layer4's
    // BatchNorm sees 4 values per channel. PyTorch's own float32 run differs from its float64 run by 0.8%
    // in conv1.weight's second gradient, so the second step checks the loss only.
    if (index === 0) await checkUpdate(training, model, step, index);
  }
});

Deno.test("a ResNeXt: an SGD step equals PyTorch's gradients and parameters through grouped convolutions", async () => {
  const gpu = await testGpu();
  const fixture = await loadTrainFixture("trainResnext");
  // resnext50_32x4d's blocks, fewer of them: the whole model is too ill-conditioned at this input size for
  // PyTorch's own float32 gradients to agree with its float64 ones (see tools/make_fixtures.py).
  const model = new ResNet(Bottleneck, [2, 1, 1, 1], {
    numClasses: fixture.numClasses,
    groups: 32,
    widthPerGroup: 4,
  });
  const training = await compileTraining(gpu, model, fixture);
  await checkLoss(training, fixture.steps[0], 0);
  await checkUpdate(training, model, fixture.steps[0], 0);
});
