import assert from "node:assert/strict";
import { resnet20 } from "../../src/models/resnet.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import type { SgdStateDict } from "../../src/optim/sgd_state.ts";
import type { AdamStateDict } from "../../src/optim/adam_state.ts";
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
  const after = await training.optimizerState() as SgdStateDict;
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
  const state = await training.optimizerState() as SgdStateDict;
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

const ADAMW = {
  batchSize: 2,
  optimizer: { kind: "adamw" as const, lr: 1e-3, betas: [0.8, 0.99] as [number, number], amsgrad: true },
};

async function compiledAdam(): Promise<TrainingStep> {
  const model = resnet20({ seed: 0 });
  model.freeze((name) => name.startsWith("layer1."));
  return await TrainingStep.compile(await testGpu(), model, ADAMW);
}

Deno.test("adamw's state is laid out as torch.optim.AdamW.state_dict(), loads back, continues exactly", async () => {
  const training = await compiledAdam();
  assert.equal(training.optimizer.kind, "adamw");
  const trained = training.model.model.parameters().filter((p) => p.requiresGrad);
  const before = await training.optimizerState() as AdamStateDict;
  assert.deepEqual(before.state, {}, "no state before the first step, as in PyTorch");
  assert.deepEqual(before.param_groups, [{
    lr: 1e-3,
    betas: [0.8, 0.99],
    eps: 1e-8,
    weight_decay: 0.01,
    amsgrad: true,
    maximize: false,
    params: trained.map((_, i) => i),
    param_names: trained.map((p) => p.name),
  }]);

  for (const seed of [1, 2]) {
    training.setBatch(randomArray(2 * 3 * 32 * 32, seed), [1, 7]);
    training.step();
  }
  const after = await training.optimizerState() as AdamStateDict;
  assert.equal(Object.keys(after.state).length, trained.length);
  const first = after.state[0];
  assert.deepEqual(first.step, { shape: [], dtype: "F32", data: new Float32Array([2]) });
  for (const key of ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] as const) {
    assert.deepEqual(first[key]!.shape, [...trained[0].shape], key);
    assert.ok((first[key]!.data as Float32Array).some((v) => v !== 0), `${key} holds the steps' moments`);
  }

  // The state's own step is the default, and the resumed step continues as the uninterrupted one.
  const fresh = await compiledAdam();
  await training.model.download();
  fresh.model.model.loadStateDict(training.model.model.stateDict());
  fresh.model.upload();
  fresh.loadOptimizerState(after);
  assert.equal(fresh.optimizer.stepCount, 2);
  assert.deepEqual(await fresh.optimizerState(), after);
  for (const t of [training, fresh]) {
    t.setBatch(randomArray(2 * 3 * 32 * 32, 3), [4, 2]);
    t.step();
  }
  assert.deepEqual(await fresh.optimizerState(), await training.optimizerState());

  const otherBetas = structuredClone(after);
  otherBetas.param_groups[0].betas = [0.9, 0.999];
  assert.throws(
    () => fresh.loadOptimizerState(otherBetas),
    /betas is 0.9,0.999 in the state, 0.8,0.99 in this/,
  );
  assert.throws(() => fresh.loadOptimizerState(after, { step: 5 }), /the state is from step 2, but step 5/);
  const noMax = structuredClone(after);
  delete noMax.state[3].max_exp_avg_sq;
  assert.throws(
    () => fresh.loadOptimizerState(noMax),
    /has no max_exp_avg_sq while other parameters have one/,
  );
  // An SGD state does not fit an AdamW step.
  const sgdState = await (await compiled()).optimizerState();
  assert.throws(() => fresh.loadOptimizerState(sgdState), /betas is undefined in the state/);
});

Deno.test("options of another optimizer are refused when compiling", async () => {
  const gpu = await testGpu();
  await assert.rejects(
    TrainingStep.compile(gpu, resnet20(), {
      batchSize: 2,
      optimizer: { kind: "adam", lr: 1e-3, momentum: 0.9 } as never,
    }),
    /optimizer: momentum does not apply to adam/,
  );
  await assert.rejects(
    TrainingStep.compile(gpu, resnet20(), {
      batchSize: 2,
      optimizer: { lr: 0.1, groups: [{ match: (n) => n.startsWith("fc."), betas: [0.9, 0.99] }] },
    }),
    /optimizer group 0: betas does not apply to sgd/,
  );
  await assert.rejects(
    TrainingStep.compile(gpu, resnet20(), { batchSize: 2, optimizer: { kind: "adam", lr: 1e-3, eps: 0 } }),
    /Invalid epsilon value: 0/,
  );
});
