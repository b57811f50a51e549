import assert from "node:assert/strict";
import { resnet20 } from "../../src/models/resnet.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { randomArray, testGpu } from "../_gpu.ts";

const OPTIONS = { batchSize: 2, optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true } };

async function compiled(): Promise<TrainingStep> {
  const model = resnet20({ seed: 0 });
  model.freeze((name) => name.startsWith("layer1."));
  return await TrainingStep.compile(await testGpu(), model, OPTIONS);
}

Deno.test("the optimizer state is laid out as torch.optim.SGD.state_dict() and loads back", async () => {
  const training = await compiled();
  const trained = training.model.model.parameters().filter((p) => p.requiresGrad);
  const before = await training.optimizerState();
  assert.deepEqual(before.state, {}, "no momentum before the first step, as in PyTorch");
  assert.deepEqual(before.param_groups, [{
    lr: 0.1,
    momentum: 0.9,
    dampening: 0,
    weight_decay: 1e-4,
    nesterov: true,
    maximize: false,
    params: trained.map((_, i) => i),
    param_names: trained.map((p) => p.name),
  }]);

  training.setBatch(randomArray(2 * 3 * 32 * 32, 1), [1, 7]);
  training.step();
  const after = await training.optimizerState();
  assert.equal(Object.keys(after.state).length, trained.length);
  assert.deepEqual(after.state[0].momentum_buffer!.shape, [...trained[0].shape]);

  const fresh = await compiled();
  fresh.loadOptimizerState(after, { step: 1 });
  assert.equal(fresh.optimizer.stepCount, 1);
  assert.deepEqual(await fresh.optimizerState(), after);
});

Deno.test("an optimizer state that does not fit is refused, naming the parameter and the shape", async () => {
  const training = await compiled();
  training.setBatch(randomArray(2 * 3 * 32 * 32, 2), [0, 3]);
  training.step();
  const state = await training.optimizerState();
  const wrongShape = structuredClone(state);
  wrongShape.state[0].momentum_buffer = { shape: [3], dtype: "F32", data: new Float32Array(3) };
  assert.throws(
    () => training.loadOptimizerState(wrongShape),
    /conv1\.weight \(parameter 0\): momentum_buffer has shape \[3\], expected float32 \[16, 3, 3, 3\]/,
  );
  const otherMomentum = structuredClone(state);
  otherMomentum.param_groups[0].momentum = 0.5;
  assert.throws(
    () => training.loadOptimizerState(otherMomentum),
    /momentum is 0.5 in the state, 0.9 in this/,
  );
  assert.throws(() => training.loadOptimizerState(state, { step: 0 }), RangeError);
  assert.throws(
    () => training.loadOptimizerState({ ...state, param_groups: [] }),
    /the state has 0 parameter groups, this training step 1/,
  );
});
