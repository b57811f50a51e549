import assert from "node:assert/strict";
import { resnet18, resnet20, resnet50 } from "../../mod.ts";
import { dropIdentityPools, fuseRelu, fuseResidual, rewrite } from "../../src/compile/fuse.ts";
import type { Graph } from "../../src/nn/graph.ts";

const kinds = (graph: Graph) => graph.nodes.map((n) => n.spec.kind);
const count = (graph: Graph, kind: string) => kinds(graph).filter((k) => k === kind).length;

Deno.test("each residual add goes into the main path's last BatchNorm, after both of its inputs", () => {
  for (const [model, blockNorm] of [[resnet18(), "bn2"], [resnet50(), "bn3"]] as const) {
    const graph = model.trace([3, 32, 32]);
    const fused = fuseResidual(graph);
    assert.equal(count(fused, "add"), 0);
    assert.equal(fused.nodes.length, graph.nodes.length - count(graph, "add"));
    const residual = fused.nodes.filter((n) => n.spec.kind === "batchnorm2d" && n.spec.residual);
    assert.equal(residual.length, count(graph, "add"));
    for (const node of residual) {
      assert.match(node.name, new RegExp(`^layer\\d\\.\\d+\\.${blockNorm}$`));
      // The main path's convolution, then the shortcut: the input or the downsample's BatchNorm.
      const [main, shortcut] = node.inputs.map((id) => fused.nodes[id]);
      assert.equal(main.spec.kind, "conv2d", node.name);
      assert.ok(shortcut.id < node.id && main.id < node.id, node.name);
      assert.ok(["relu", "maxpool2d", "batchnorm2d"].includes(shortcut.spec.kind), shortcut.name);
      assert.ok(node.parameters.get("weight")!.name.startsWith(node.name));
    }
  }
});

Deno.test("after the rewrites a ResNet block is convolutions and BatchNorms with their adds and ReLUs", () => {
  const graph = resnet20().trace([3, 32, 32]);
  const rewritten = rewrite(graph);
  assert.equal(count(rewritten, "add") + count(rewritten, "relu"), 0);
  assert.deepEqual(
    rewritten.nodes.filter((n) => n.name.startsWith("layer1.0.")).map((n) => [n.name, n.spec]),
    [
      ["layer1.0.conv1", graph.nodes.find((n) => n.name === "layer1.0.conv1")!.spec],
      ["layer1.0.bn1", { kind: "batchnorm2d", numFeatures: 16, eps: 1e-5, momentum: 0.1, relu: true }],
      ["layer1.0.conv2", graph.nodes.find((n) => n.name === "layer1.0.conv2")!.spec],
      [
        "layer1.0.bn2",
        { kind: "batchnorm2d", numFeatures: 16, eps: 1e-5, momentum: 0.1, residual: true, relu: true },
      ],
    ],
  );
  // ReLU folding alone leaves the adds, each with its ReLU.
  assert.equal(count(fuseRelu(graph), "add"), count(graph, "add"));
});

Deno.test("for inference each BatchNorm folds into its convolution, which takes its parameters", () => {
  const graph = resnet18().trace([3, 32, 32]);
  const folded = rewrite(graph, "eval");
  assert.equal(count(folded, "batchnorm2d"), 0);
  assert.equal(count(folded, "conv2d"), count(graph, "conv2d"));
  // layer4 has 1x1 pixels here, so the global average pool is dropped too.
  assert.deepEqual(new Set(kinds(folded)), new Set(["input", "conv2d", "maxpool2d", "flatten", "linear"]));
  const conv2 = folded.nodes.find((n) => n.name === "layer2.0.conv2")!;
  assert.deepEqual(
    conv2.spec.kind === "conv2d" && [conv2.spec.norm, conv2.spec.residual, conv2.spec.relu],
    [{ eps: 1e-5 }, true, true],
  );
  assert.deepEqual([...conv2.parameters.keys()], [
    "weight",
    "norm_weight",
    "norm_bias",
    "running_mean",
    "running_var",
  ]);
  assert.equal(conv2.parameters.get("norm_weight")!.name, "layer2.0.bn2.weight");
  // Its residual is the downsample convolution, itself folded with its BatchNorm.
  const shortcut = folded.nodes[conv2.inputs[1]];
  assert.equal(shortcut.name, "layer2.0.downsample.0");
  assert.ok(shortcut.spec.kind === "conv2d" && shortcut.spec.norm && !shortcut.spec.relu);
  // Training keeps the BatchNorms.
  assert.equal(count(rewrite(graph), "batchnorm2d"), count(graph, "batchnorm2d"));
});

Deno.test("a global average pool over 1x1 pixels is dropped, its reader reading the pool's input", () => {
  for (const [size, pools] of [[32, 0], [64, 1], [224, 1]] as const) {
    const graph = resnet18().trace([3, size, size]);
    const dropped = dropIdentityPools(graph);
    assert.equal(count(dropped, "adaptiveavgpool2d"), pools, `${size}x${size}`);
    assert.equal(dropped.nodes.length, graph.nodes.length - 1 + pools);
    const flatten = dropped.nodes.find((n) => n.spec.kind === "flatten")!;
    const reads = dropped.nodes[flatten.inputs[0]];
    assert.equal(reads.name, pools ? "avgpool" : "layer4.1.relu", `${size}x${size}`);
  }
});
