import assert from "node:assert/strict";
import { BasicBlock, Bottleneck, ResNet, resnet20 } from "../../src/models/resnet.ts";
import { Inference } from "../../src/compile/inference.ts";
import { assertClose, randomArray, testGpu } from "../_gpu.ts";
import { modelReference } from "../reference/model.ts";
import { perturbBatchNorm } from "../train/_models.ts";

// Tolerance: float32 GPU against float64 CPU through ~20 layers, relative to the largest logit.
const TOLERANCE = 1e-4;

for (
  const [name, make, shape, batch] of [
    [
      "torchvision BasicBlock ResNet, imagenet stem",
      () => new ResNet(BasicBlock, [1, 1, 1, 1], { numClasses: 7, seed: 0 }),
      [3, 33, 29],
      3,
    ],
    [
      "torchvision Bottleneck ResNet, cifar stem",
      () => new ResNet(Bottleneck, [1, 1, 1, 1], { numClasses: 5, stem: "cifar", seed: 0 }),
      [3, 8, 8],
      1,
    ],
    ["CIFAR resnet20", () => resnet20({ seed: 0 }), [3, 16, 16], 2],
  ] as const
) {
  Deno.test(`eval forward on the GPU equals the CPU reference: ${name}`, async () => {
    const gpu = await testGpu();
    const model = perturbBatchNorm(make(), 7);
    const inference = await Inference.compile(gpu, model, { batchSize: batch, inputShape: shape });
    const images = randomArray(batch * shape[0] * shape[1] * shape[2], 11);
    const logits = await inference.run(images);
    const expected = modelReference(model.trace(shape), images, batch, "eval").logits;
    assertClose(logits, expected, TOLERANCE, `${name} logits`);
  });
}

Deno.test("Inference.run takes any number of images and pads the last chunk", async () => {
  const gpu = await testGpu();
  const model = perturbBatchNorm(resnet20({ numClasses: 3, seed: 0 }), 3);
  const inference = await Inference.compile(gpu, model, { batchSize: 2, inputShape: [3, 8, 8] });
  const images = randomArray(5 * 3 * 8 * 8, 5);
  const all = await inference.run(images);
  assert.equal(all.length, 15);
  const last = await inference.run(images.slice(4 * 192));
  assertClose(all.slice(12), last, 1e-6, "last image alone");
  await assert.rejects(inference.run(new Float32Array(100)), /expected a multiple of 192 floats/);
});
