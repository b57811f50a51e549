import assert from "node:assert/strict";
import { elementCount } from "../../src/io/state_dict.ts";
import { loadForwardFixtures, loadTrainFixture } from "../_fixtures.ts";
import { deterministicStateDict } from "../_weights.ts";

Deno.test("forward fixtures load with consistent shapes", async () => {
  const fixtures = await loadForwardFixtures();
  assert.deepEqual(fixtures.map((f) => f.name), [
    "resnet18_c10",
    "resnet34_c10",
    "resnet50_c10",
    "resnet18_c1000",
    "resnet50_c1000",
    "resnext50_32x4d_c10",
    "wide_resnet50_2_c10",
  ]);
  for (const f of fixtures) {
    assert.equal(f.input.length, elementCount(f.inputShape));
    assert.equal(f.logits.length, f.inputShape[0] * f.numClasses);
    assert.ok(f.logits.every(Number.isFinite));
    assert.deepEqual(f.stateDict.find(([name]) => name === "fc.weight")![1][0], f.numClasses);
  }
});

Deno.test("the SGD fixture's updates follow PyTorch's momentum and weight-decay rule", async () => {
  const train = await loadTrainFixture();
  const initial = deterministicStateDict(train.stateDict, train.weightSeed);
  const [first, second] = train.steps;
  assert.equal(train.steps.length, 2);
  for (const [name, s0] of first.samples) {
    const s1 = second.samples.get(name)!;
    const p0 = initial.get(name)!.data as Float32Array;
    s0.indices.forEach((index, k) => {
      const buffer0 = s0.grad[k] + train.weightDecay * p0[index];
      const p1 = p0[index] - train.lr * buffer0;
      const buffer1 = train.momentum * buffer0 + s1.grad[k] + train.weightDecay * s0.value[k];
      const p2 = s0.value[k] - train.lr * buffer1;
      const scale = Math.max(1, Math.abs(p1));
      assert.ok(Math.abs(s0.value[k] - p1) <= 1e-6 * scale, `${name}[${index}] step 1`);
      assert.ok(Math.abs(s1.value[k] - p2) <= 1e-6 * Math.max(1, Math.abs(p2)), `${name}[${index}] step 2`);
    });
  }
  for (const step of train.steps) {
    assert.equal(step.logits.length, train.inputShape[0] * train.numClasses);
    for (const name of train.fullTensors) {
      const size = elementCount(initial.get(name)!.shape);
      assert.equal(step.grad.get(name)!.length, size);
      assert.equal(step.value.get(name)!.length, size);
      const samples = step.samples.get(name)!;
      samples.indices.forEach((index, k) => assert.equal(step.value.get(name)![index], samples.value[k]));
    }
  }
  for (const [bn, count] of first.numBatchesTracked) {
    assert.equal(
      BigInt(count),
      (initial.get(`${bn}.num_batches_tracked`)!.data as BigInt64Array)[0] + 1n,
      bn,
    );
    assert.equal(second.numBatchesTracked.get(bn), count + 1);
    assert.equal(first.runningMean.get(bn)!.length, initial.get(`${bn}.running_mean`)!.shape[0]);
  }
  assert.equal(first.runningVar.size, 20);
});
