import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { resnet20 } from "../../src/models/resnet.ts";
import {
  CHECKPOINT_FORMAT,
  loadCheckpointWeights,
  loadTrainingState,
  modelInfoOf,
  openCheckpoint,
  resolveWeightsPath,
  restoreOptimizer,
  saveCheckpoint,
  type TrainingState,
} from "../../src/train/checkpoint.ts";
import { Inference } from "../../src/compile/inference.ts";
import { resolveConfig } from "../../src/train/run_config.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { loadResnet20Fixture } from "../_fixtures.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";
import { CLASSES } from "./_runs.ts";

const BATCH = 2;

async function trainedStep(): Promise<TrainingStep> {
  const gpu = await testGpu();
  const model = resnet20({ seed: 0 });
  model.freeze((name) => name.startsWith("layer1."));
  const training = await TrainingStep.compile(gpu, model, {
    batchSize: BATCH,
    optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 },
  });
  training.setBatch(randomArray(BATCH * 3 * 32 * 32, 3), [1, 7]);
  training.step();
  training.step();
  await training.readStats();
  return training;
}

function stateFor(step: number): TrainingState {
  return {
    format: CHECKPOINT_FORMAT,
    config: resolveConfig({ batchSize: BATCH }),
    info: {
      model: "resnet20",
      stem: "cifar",
      classes: CLASSES,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      inputShape: [3, 32, 32],
    },
    position: { epoch: 0, batch: step },
    step,
    seed: 0,
    partial: { lossSum: 4.5, correct: 1, samples: 4, seconds: 0.5 },
    history: [],
  };
}

Deno.test("a checkpoint holds torchvision-keyed weights, the momentum of trained parameters and its sidecar", async () => {
  const training = await trainedStep();
  const dir = await Deno.makeTempDir();
  const state = stateFor(2);
  await saveCheckpoint(dir, "last", training, state);

  const weights = await loadSafetensors(join(dir, "last.safetensors"));
  const model = training.model.model;
  assert.deepEqual([...weights.tensors.keys()].sort(), [...model.stateDict().keys()].sort());
  assert.deepEqual(modelInfoOf(weights.metadata), state.info);
  assert.equal(weights.metadata.format, "pt");
  const tracked = weights.tensors.get("bn1.num_batches_tracked")!;
  assert.equal(tracked.dtype, "I64");
  assert.deepEqual([...tracked.data as BigInt64Array], [2n]);

  const optimizer = await loadSafetensors(join(dir, "last.optimizer.safetensors"));
  const trained = model.parameters().filter((p) => p.requiresGrad).map((p) => p.name);
  assert.deepEqual([...optimizer.tensors.keys()].sort(), trained.sort());
  assert.ok(!optimizer.tensors.has("layer1.0.conv1.weight"), "frozen parameters have no momentum");
  assert.ok((optimizer.tensors.get("fc.weight")!.data as Float32Array).some((v) => v !== 0));

  assert.deepEqual(await loadTrainingState(dir), state);
  assert.equal(await resolveWeightsPath(dir), join(dir, "last.safetensors"));
});

Deno.test("restoring puts the momentum and the step count back into a new training step", async () => {
  const training = await trainedStep();
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(dir, "last", training, stateFor(2));
  const before = await loadSafetensors(join(dir, "last.optimizer.safetensors"));

  const model = resnet20();
  model.freeze((name) => name.startsWith("layer1."));
  const state = await loadTrainingState(dir);
  model.loadStateDict(await loadCheckpointWeights(dir, state));
  const fresh = await TrainingStep.compile(await testGpu(), model, {
    batchSize: BATCH,
    optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 },
  });
  await restoreOptimizer(dir, fresh, state);
  assert.equal(fresh.optimizer.stepCount, 2);
  const again = await Deno.makeTempDir();
  await saveCheckpoint(again, "last", fresh, state);
  const after = await loadSafetensors(join(again, "last.optimizer.safetensors"));
  assert.deepEqual(after.tensors, before.tensors);
});

Deno.test("files of two different saves are refused as an incomplete checkpoint", async () => {
  const training = await trainedStep();
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(dir, "last", training, stateFor(2));
  const newer = { ...stateFor(3) };
  await Deno.writeTextFile(join(dir, "last.json"), JSON.stringify(newer));
  const state = await loadTrainingState(dir);
  await assert.rejects(
    loadCheckpointWeights(dir, state),
    /from step 2, its sidecar from step 3: the checkpoint is incomplete/,
  );
  await assert.rejects(restoreOptimizer(dir, training, state), /the checkpoint is incomplete/);
  await Deno.writeTextFile(join(dir, "last.json"), '{"format": 99}');
  await assert.rejects(loadTrainingState(dir), /not a checkpoint sidecar of format 1/);
});

Deno.test("a .pth written by PyTorch opens as the named model and gives PyTorch's logits", async () => {
  const fixture = await loadResnet20Fixture();
  const pth = fileURLToPath(fixture.pth);
  const opened = await openCheckpoint(pth, { model: "resnet20" });
  assert.equal(opened.info.model, "resnet20");
  assert.equal(opened.info.classes.length, 10);
  const [batch] = fixture.inputShape;
  const inference = await Inference.compile(await testGpu(), opened.model, {
    batchSize: batch,
    inputShape: fixture.inputShape.slice(1),
  });
  assertClose(await inference.run(fixture.input), fixture.logits, 1e-4, "resnet20 logits");

  await assert.rejects(openCheckpoint(pth), /does not say which model it holds; name it/);
  await assert.rejects(
    openCheckpoint(pth, { model: "resnet32" }),
    /does not fit the model:[\s\S]*missing key/,
  );
});

Deno.test("a checkpoint of another model is refused, naming both", async () => {
  const training = await trainedStep();
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(dir, "best", training, stateFor(2));
  const opened = await openCheckpoint(dir);
  assert.equal(opened.path, join(dir, "best.safetensors"));
  assert.deepEqual(opened.info.classes, CLASSES);
  assert.equal(opened.config?.batchSize, BATCH);
  await assert.rejects(
    openCheckpoint(dir, { model: "resnet56" }),
    /best\.safetensors holds a resnet20, not a resnet56/,
  );
  await assert.rejects(openCheckpoint(join(dir, "nothing")), /checkpoint .*nothing does not exist/);
});
