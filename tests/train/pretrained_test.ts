import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resnet18, resnet20 } from "../../src/models/resnet.ts";
import {
  applyFreeze,
  fetchWeights,
  hashPrefix,
  IMAGENET_WEIGHTS,
  loadPretrained,
  readStateDict,
} from "../../src/train/pretrained.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { modelNamesOf } from "../../src/models/table.ts";
import { loadResnet20Fixture } from "../_fixtures.ts";
import { randomArray, testGpu } from "../_gpu.ts";

Deno.test("pretrained weights load with the head replaced for another class count", async () => {
  const fixture = await loadResnet20Fixture();
  const dict = await readStateDict(fileURLToPath(fixture.pth));
  assert.deepEqual(await readStateDict(fileURLToPath(fixture.safetensors)), dict);
  const model = resnet20({ numClasses: 5 });
  const freshHead = model.fc.namedParameters().map((p) => p.data.slice());
  const loaded = loadPretrained(model, dict, "resnet20.pth");
  assert.deepEqual(loaded.replacedHead, [10, 64]);
  const byName = new Map(model.namedParameters().map((p) => [p.name, p]));
  assert.deepEqual(byName.get("layer3.2.conv2.weight")!.data, dict.get("layer3.2.conv2.weight")!.data);
  assert.deepEqual(model.fc.namedParameters().map((p) => p.data), freshHead);

  const same = resnet20();
  assert.equal(loadPretrained(same, dict, "resnet20.pth").replacedHead, undefined);
  assert.deepEqual(
    new Map(same.namedParameters().map((p) => [p.name, p.data])).get("fc.bias"),
    dict.get("fc.bias")!.data,
  );

  assert.throws(
    () => loadPretrained(resnet18({ numClasses: 10 }), dict, "resnet20.pth"),
    /resnet20\.pth does not fit the model/,
  );
});

Deno.test("--freeze backbone, a stage, or none chooses the trained parameters", () => {
  const model = resnet18({ numClasses: 10 });
  assert.ok(applyFreeze(model, "backbone").every((name) => !name.startsWith("fc.")));
  assert.deepEqual(model.parameters().filter((p) => p.requiresGrad).map((p) => p.name), [
    "fc.weight",
    "fc.bias",
  ]);
  const frozen = applyFreeze(model, "layer2");
  assert.ok(frozen.includes("conv1.weight") && frozen.includes("layer2.1.bn2.bias"));
  assert.ok(!frozen.some((name) => name.startsWith("layer3.") || name.startsWith("fc.")));
  assert.deepEqual(applyFreeze(model, "none"), []);
  assert.throws(
    () => applyFreeze(model, "layer9"),
    /freeze must be none, backbone or a module .*layer4\); got layer9/,
  );
  assert.throws(() => applyFreeze(model, "fc"), /got fc/);
});

Deno.test("a step with the backbone frozen changes only fc", async () => {
  const gpu = await testGpu();
  const model = resnet20();
  applyFreeze(model, "backbone");
  const training = await TrainingStep.compile(gpu, model, {
    batchSize: 2,
    optimizer: { lr: 0.5, momentum: 0.9 },
  });
  const before = new Map(model.parameters().map((p) => [p.name, p.data.slice()]));
  training.setBatch(randomArray(2 * 3 * 32 * 32, 11), [3, 4]);
  training.step();
  await training.readStats();
  await training.model.download();
  for (const p of model.parameters()) {
    const changed = p.data.some((v, i) => v !== before.get(p.name)![i]);
    assert.equal(changed, p.name.startsWith("fc."), `${p.name} ${changed ? "changed" : "did not change"}`);
  }
});

Deno.test("weights are downloaded once, checked against the hash prefix of their name, and reused", async () => {
  const body = new TextEncoder().encode("pretend these are weights");
  const digest = createHash("sha256").update(body).digest("hex");
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    requests++;
    return new Response(body);
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/models`;
    const cacheDir = await Deno.makeTempDir();
    const torchCacheDir = await Deno.makeTempDir();
    const quiet = { cacheDir, torchCacheDir, onProgress: () => {} };
    const good = `${base}/tiny-${digest.slice(0, 8)}.pth`;
    assert.equal(hashPrefix("resnet18-f37072fd.pth"), "f37072fd");

    const path = await fetchWeights(good, quiet);
    assert.equal(path, join(cacheDir, `tiny-${digest.slice(0, 8)}.pth`));
    assert.deepEqual(await Deno.readFile(path), body);
    assert.equal(await fetchWeights(good, quiet), path);
    assert.equal(requests, 1);

    await assert.rejects(
      fetchWeights(`${base}/tiny-0badc0de.pth`, quiet),
      /SHA-256 [0-9a-f]{64} does not start with 0badc0de/,
    );
    assert.deepEqual([...Deno.readDirSync(cacheDir)].map((e) => e.name), [`tiny-${digest.slice(0, 8)}.pth`]);

    await Deno.writeFile(join(torchCacheDir, "other-12345678.pth"), body);
    assert.equal(
      await fetchWeights(`${base}/other-12345678.pth`, quiet),
      join(torchCacheDir, "other-12345678.pth"),
    );
    assert.equal(requests, 2);
  } finally {
    await server.shutdown();
  }
});

Deno.test("every ImageNet model has torchvision's IMAGENET1K_V1 weights, named with their hash prefix", () => {
  for (const name of modelNamesOf("imagenet")) {
    const url = IMAGENET_WEIGHTS[name];
    assert.match(
      url,
      new RegExp(`^https://download\\.pytorch\\.org/models/${name}-[0-9a-f]{8}\\.pth$`),
      name,
    );
    assert.ok(hashPrefix(url.slice(url.lastIndexOf("/") + 1)), name);
  }
  assert.equal(
    IMAGENET_WEIGHTS.resnext50_32x4d,
    "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
  );
  assert.equal(
    IMAGENET_WEIGHTS.wide_resnet101_2,
    "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
  );
  assert.deepEqual(modelNamesOf("cifar").filter((name) => name in IMAGENET_WEIGHTS), []);
});
