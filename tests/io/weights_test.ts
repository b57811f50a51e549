import assert from "node:assert/strict";
import {
  fixtureUrl,
  jsonFloat,
  loadGeneratorSamples,
  loadResnet20Fixture,
  loadTrainFixture,
} from "../_fixtures.ts";
import { deterministicInput, deterministicLabels, deterministicTensor } from "../_weights.ts";

Deno.test("the TypeScript generator reproduces make_fixtures.py's values bit for bit", async () => {
  for (const sample of await loadGeneratorSamples()) {
    if ("labels" in sample) {
      assert.deepEqual([...deterministicLabels(sample.labels, sample.classes, sample.seed)], sample.values);
      continue;
    }
    const values = "input" in sample
      ? deterministicInput(sample.input, sample.seed)
      : deterministicTensor(sample.name, sample.shape, sample.seed).data;
    const what = "input" in sample ? "input" : sample.name;
    sample.indices.forEach((index, k) => {
      const expected = sample.values[k];
      const actual = values[index];
      if (typeof actual === "bigint") assert.equal(actual, BigInt(expected), `${what}[${index}]`);
      else assert.equal(actual, jsonFloat(expected), `${what}[${index}]`);
    });
  }
});

Deno.test("the stored fixture inputs equal the generator's", async () => {
  const forward = new Uint8Array(await Deno.readFile(fixtureUrl("forward/input_2x3x64x64.f32")));
  assert.deepEqual(new Uint8Array(deterministicInput([2, 3, 64, 64], 2).buffer), forward);
  const resnet20 = await loadResnet20Fixture();
  assert.deepEqual(resnet20.input, deterministicInput(resnet20.inputShape, resnet20.inputSeed));
  const train = await loadTrainFixture();
  for (const step of train.steps) {
    assert.deepEqual(step.input, deterministicInput(train.inputShape, step.inputSeed));
    assert.deepEqual(
      [...deterministicLabels(step.labels.length, train.numClasses, step.inputSeed)],
      step.labels,
    );
  }
});

Deno.test("each tensor's values depend on its name and seed only", () => {
  const a = deterministicTensor("layer1.0.conv1.weight", [4, 4, 3, 3], 1).data;
  const b = deterministicTensor("layer1.0.conv1.weight", [4, 4, 3, 3], 1).data;
  const c = deterministicTensor("layer1.0.conv2.weight", [4, 4, 3, 3], 1).data;
  const d = deterministicTensor("layer1.0.conv1.weight", [4, 4, 3, 3], 2).data;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, d);
  assert.throws(() => deterministicTensor("layer1.0.conv1.scale", [4], 1), /no deterministic rule/);
});
