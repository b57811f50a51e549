import assert from "node:assert/strict";
import { CifarResNet } from "../../src/models/resnet.ts";
import {
  buildModel,
  INPUT_SIZE,
  isModelName,
  MODEL_NAMES,
  modelNamesOf,
  MODELS,
  modelStem,
} from "../../src/models/table.ts";

Deno.test("the model table names each model once, with its family, classes and stem", () => {
  assert.deepEqual(Object.keys(MODELS), [...MODEL_NAMES]);
  assert.deepEqual(modelNamesOf("cifar"), ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]);
  assert.deepEqual(modelNamesOf("imagenet"), [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
  ]);
  assert.ok(isModelName("resnet56") && !isModelName("vgg16") && !isModelName("toString"));
  assert.equal(modelStem("resnet20", "imagenet"), "cifar");
  assert.equal(modelStem("resnet18"), "imagenet");
  assert.equal(modelStem("resnet18", "cifar"), "cifar");
  assert.equal(INPUT_SIZE[modelStem("resnet50")], 224);
});

Deno.test("buildModel makes each model of the table, seeded", () => {
  for (const name of ["resnet18", "resnet20"] as const) {
    const model = buildModel(name, { numClasses: 3, stem: "cifar", seed: 1 });
    assert.equal(model instanceof CifarResNet, MODELS[name].family === "cifar", name);
    assert.deepEqual(
      model.stateDict(),
      buildModel(name, { numClasses: 3, stem: "cifar", seed: 1 }).stateDict(),
    );
    assert.deepEqual(model.stateDict().get("fc.bias")!.shape, [3]);
  }
  assert.equal(buildModel("resnet32").stateDict().get("fc.bias")!.shape[0], MODELS.resnet32.numClasses);
  assert.throws(() => buildModel("vgg16" as "resnet18"), /unknown model "vgg16"/);
});
