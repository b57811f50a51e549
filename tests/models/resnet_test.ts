import assert from "node:assert/strict";
import {
  BasicBlock,
  ResNet,
  resnet110,
  resnet18,
  resnet20,
  resnet34,
  resnet50,
  resnet56,
  resnext101_32x8d,
  resnext101_64x4d,
  resnext50_32x4d,
  wide_resnet101_2,
  wide_resnet50_2,
} from "../../src/models/resnet.ts";
import { summary } from "../../src/nn/summary.ts";
import { Conv2d } from "../../src/nn/layers.ts";

Deno.test("parameter counts equal torchvision's", () => {
  assert.equal(resnet18().parameterCount(), 11_689_512);
  assert.equal(resnet34().parameterCount(), 21_797_672);
  assert.equal(resnet50().parameterCount(), 25_557_032);
  assert.equal(resnext50_32x4d().parameterCount(), 25_028_904);
  assert.equal(resnext101_32x8d().parameterCount(), 88_791_336);
  assert.equal(resnext101_64x4d().parameterCount(), 83_455_272);
  assert.equal(wide_resnet50_2().parameterCount(), 68_883_240);
  assert.equal(wide_resnet101_2().parameterCount(), 126_886_696);
});

Deno.test("ResNeXt and Wide ResNet bottlenecks: width = floor(planes * widthPerGroup / 64) * groups", () => {
  const shapes = (model: ResNet, names: string[]) => {
    const state = model.stateDict();
    return names.map((name) => state.get(name)!.shape);
  };
  const names = [
    "layer1.0.conv1.weight",
    "layer1.0.conv2.weight",
    "layer1.0.conv3.weight",
    "layer4.0.conv2.weight",
  ];
  // torchvision 0.14's shapes: conv2 is grouped, its weight [width, width / groups, 3, 3].
  assert.deepEqual(shapes(resnext50_32x4d(), names), [
    [128, 64, 1, 1],
    [128, 4, 3, 3],
    [256, 128, 1, 1],
    [1024, 32, 3, 3],
  ]);
  assert.deepEqual(shapes(wide_resnet50_2(), names), [
    [128, 64, 1, 1],
    [128, 128, 3, 3],
    [256, 128, 1, 1],
    [1024, 1024, 3, 3],
  ]);
  assert.throws(
    () => new ResNet(BasicBlock, [1, 1, 1, 1], { groups: 2 }),
    /BasicBlock only supports groups=1/,
  );
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

Deno.test("a ResNet's weights are a function of its seed, initialised as torchvision's ResNet.__init__", () => {
  const weights = (seed?: number) => resnet20({ seed }).stateDict();
  const rms = (data: Float32Array) => Math.sqrt(data.reduce((sum, x) => sum + x * x, 0) / data.length);
  const [a, b, c] = [weights(5), weights(5), weights(6)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.get("layer3.2.conv2.weight"), c.get("layer3.2.conv2.weight"));
  assert.notDeepEqual(weights().get("fc.weight"), weights().get("fc.weight"));

  const model = resnet18({ seed: 0 }).stateDict();
  const conv = model.get("layer4.0.conv1.weight")!.data as Float32Array; // fan-out 512 * 3 * 3
  assert.ok(Math.abs(rms(conv) / Math.sqrt(2 / (512 * 9)) - 1) < 0.01, `rms ${rms(conv)}`);
  assert.ok((model.get("layer2.1.bn2.weight")!.data as Float32Array).every((x) => x === 1));
  assert.ok((model.get("fc.weight")!.data as Float32Array).every((x) => Math.abs(x) <= 1 / Math.sqrt(512)));

  const zeroed = resnet50({ seed: 0, zeroInitResidual: true }).stateDict();
  assert.ok((zeroed.get("layer3.4.bn3.weight")!.data as Float32Array).every((x) => x === 0));
  assert.ok((zeroed.get("layer3.4.bn2.weight")!.data as Float32Array).every((x) => x === 1));
  const cifar = resnet20({ seed: 0, zeroInitResidual: true }).stateDict();
  assert.ok((cifar.get("layer1.0.bn2.weight")!.data as Float32Array).every((x) => x === 0));
});

Deno.test("the CIFAR ResNets are ResNets of three 16/32/64-plane stages", () => {
  const model = resnet20();
  assert.ok(model instanceof ResNet);
  assert.equal(model.layer4, undefined);
  assert.equal(model.parameterCount(), 272_474);
  assert.equal(
    new ResNet(BasicBlock, [3, 3, 3], { planes: [16, 32, 64], stem: "cifar", numClasses: 10 })
      .parameterCount(),
    272_474,
  );
  assert.throws(() => new ResNet(BasicBlock, [2, 2], { planes: [16, 32] }), /three or four stages/);
  assert.throws(() => new ResNet(BasicBlock, [2, 2, 2]), /three or four stages/);
});
