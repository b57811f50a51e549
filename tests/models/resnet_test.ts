import assert from "node:assert/strict";
import {
  BasicBlock,
  resnet110,
  resnet18,
  resnet20,
  resnet34,
  resnet50,
  resnet56,
} from "../../src/models/resnet.ts";
import { summary } from "../../src/nn/summary.ts";
import { Conv2d } from "../../src/nn/layers.ts";

Deno.test("parameter counts equal torchvision's", () => {
  assert.equal(resnet18().parameterCount(), 11_689_512);
  assert.equal(resnet34().parameterCount(), 21_797_672);
  assert.equal(resnet50().parameterCount(), 25_557_032);
});

Deno.test("CIFAR ResNets have the paper's depth", () => {
  const convs = (m: { namedParameters(): { name: string }[] }) =>
    m.namedParameters().filter((p) => /conv\d\.weight$/.test(p.name)).length;
  assert.equal(convs(resnet20()) + 1, 20); // + fc
  assert.equal(convs(resnet56()) + 1, 56);
  assert.equal(convs(resnet110()) + 1, 110);
});

Deno.test("state_dict keys follow torchvision's names and order", () => {
  const keys = [...resnet18().stateDict().keys()];
  assert.deepEqual(keys.slice(0, 8), [
    "conv1.weight",
    "bn1.weight",
    "bn1.bias",
    "bn1.running_mean",
    "bn1.running_var",
    "bn1.num_batches_tracked",
    "layer1.0.conv1.weight",
    "layer1.0.bn1.weight",
  ]);
  assert.ok(keys.includes("layer2.0.downsample.0.weight"));
  assert.ok(keys.includes("layer2.0.downsample.1.running_var"));
  assert.deepEqual(keys.slice(-2), ["fc.weight", "fc.bias"]);
  assert.equal(keys.length, 122);
  const bottleneck = [...resnet50().stateDict().keys()];
  assert.ok(bottleneck.includes("layer1.0.conv3.weight"));
  assert.equal(bottleneck.length, 320);
});

Deno.test("tracing infers shapes; the summary shows them", () => {
  const s = summary(resnet18({ numClasses: 10, stem: "cifar" }).trace([3, 32, 32]), 4);
  const row = (name: string, type: string) => s.rows.find((r) => r.name === name && r.type === type)!;
  assert.deepEqual(row("layer1.0.conv1", "Conv2d").outputShape, [4, 64, 32, 32]);
  assert.deepEqual(row("layer4.1.bn2", "BatchNorm2d").outputShape, [4, 512, 4, 4]);
  assert.deepEqual(row("fc", "Linear").outputShape, [4, 10]);
  assert.equal(s.totalParameters, 11_173_962);
  assert.match(s.text, /Total params: 11,173,962/);
  const imagenet = summary(resnet50().trace([3, 224, 224]));
  assert.equal(imagenet.totalParameters, 25_557_032);
  assert.deepEqual(imagenet.rows.find((r) => r.name === "maxpool")!.outputShape, [1, 64, 56, 56]);
});

Deno.test("a shape mismatch fails at build time naming the layer and both shapes", () => {
  assert.throws(
    () => resnet18().trace([1, 32, 32]),
    /conv1 \(conv2d\): expected input of shape \[3, H, W\], got \[1, 32, 32\]/,
  );
  assert.throws(() => new Conv2d(3, 8, 5).trace([3, 4, 4]), /: input \[3, 4, 4\] is too small for kernel 5/);
  const block = new BasicBlock(64, 128, 1); // width changes but no downsample
  assert.throws(
    () => block.trace([64, 8, 8]),
    /add\): the residual branch has shape \[128, 8, 8\] but the shortcut has \[64, 8, 8\]/,
  );
});
