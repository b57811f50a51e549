import assert from "node:assert/strict";
import { summary } from "../../src/nn/summary.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { TutorialResNet } from "../../examples/tutorial_resnet.ts";
import { randomArray, testGpu } from "../_gpu.ts";

Deno.test("the tutorial-style ResNet builds with the public API, names its parameters like PyTorch and trains", async () => {
  const model = new TutorialResNet([3, 4, 6, 3]);
  const s = summary(model.trace([3, 32, 32]));
  assert.equal(s.totalParameters, 21_282_122); // torchvision's resnet34 with a 3x3 stem and 10 classes
  const keys = [...model.stateDict().keys()];
  assert.ok(keys.includes("layer3.5.bn2.running_var"));
  assert.ok(keys.includes("layer2.0.downsample.0.weight"));
  const small = new TutorialResNet([1, 1, 1, 1], 3);
  const training = await TrainingStep.compile(await testGpu(), small, {
    batchSize: 2,
    inputShape: [3, 8, 8],
    optimizer: { lr: 0.01 },
  });
  training.setBatch(randomArray(2 * 3 * 64, 4), [0, 2]);
  training.step();
  const stats = await training.readStats();
  assert.ok(Number.isFinite(stats.loss) && stats.samples === 2);
});
