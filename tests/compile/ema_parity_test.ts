/**
 * A weight EMA over three Adam steps of ResNet-20 against `torch.optim.swa_utils.AveragedModel` with
 * `use_buffers=True` (fixtures made by tools/make_ema_fixtures.py with Debian's torch 1.13; weights,
 * inputs and labels from the deterministic generator in tests/_weights.ts).
 */
import assert from "node:assert/strict";
import { resnet20 } from "../../src/models/resnet.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { UNTUNED } from "../../src/ops/conv2d.ts";
import { relativeError, testGpu } from "../_gpu.ts";
import { deterministicInput, deterministicStateDict } from "../_weights.ts";

// The optimizer parity's bar (tests/compile/adam_parity_test.ts): max abs difference relative to the
// tensor's max abs value.
const TOLERANCE = 1e-3;

const ROOT = new URL("../fixtures/ema/", import.meta.url);
const manifest = JSON.parse(await Deno.readTextFile(new URL("ema.json", ROOT))) as {
  weightSeed: number;
  inputShape: number[];
  numClasses: number;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  decay: number;
  updates: number;
  steps: { inputSeed: number; labels: number[] }[];
  sampleIndices: Record<string, number[]>;
  stateDict: Array<[string, number[]]>;
  data: { file: string; arrays: Record<string, { offset: number; shape: number[] }> };
};

Deno.test("resnet20: a weight EMA over three Adam steps equals AveragedModel's, BatchNorm statistics included", async () => {
  const bytes = await Deno.readFile(new URL(manifest.data.file.replace(/^ema\//, ""), ROOT));
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const array = (key: string) => {
    const { offset, shape } = manifest.data.arrays[key];
    return all.subarray(offset, offset + shape.reduce((a, b) => a * b, 1));
  };
  const model = resnet20({ numClasses: manifest.numClasses });
  model.loadStateDict(deterministicStateDict(manifest.stateDict, manifest.weightSeed));
  const [batch, ...inputShape] = manifest.inputShape;
  const { lr, betas, eps, weight_decay: weightDecay } = manifest.optimizer;
  const training = await TrainingStep.compile(await testGpu(), model, {
    batchSize: batch,
    inputShape,
    optimizer: { kind: "adam", lr, betas, eps, weightDecay },
    ema: { decay: manifest.decay },
    tuning: UNTUNED, // the direct convolutions, as in adam_parity_test.ts
  });
  for (const step of manifest.steps) {
    training.setBatch(deterministicInput(manifest.inputShape, step.inputSeed), step.labels);
    training.step();
  }
  assert.equal(training.ema!.updates, manifest.updates);
  const averaged = await training.averagedModel!.readStateDict();
  const current = await training.model.readStateDict();
  let worst = 0;
  for (const [name, indices] of Object.entries(manifest.sampleIndices)) {
    const full = averaged.get(name)!.data as Float32Array;
    const error = relativeError(indices.map((i) => full[i]), array(`averagedSamples.${name}`));
    worst = Math.max(worst, error);
    assert.ok(error <= TOLERANCE, `${name}: relative error ${error}`);
  }
  for (const key of Object.keys(manifest.data.arrays).filter((k) => k.startsWith("averaged."))) {
    const name = key.slice("averaged.".length);
    const error = relativeError(averaged.get(name)!.data as Float32Array, array(key));
    worst = Math.max(worst, error);
    assert.ok(error <= TOLERANCE, `${name} (whole tensor): relative error ${error}`);
    // The average lags the trained values by more than the tolerance, so a copy would fail.
    const lag = relativeError(current.get(name)!.data as Float32Array, array(key));
    assert.ok(lag > 2 * TOLERANCE, `${name}: the average is only ${lag} from the trained values`);
  }
  // num_batches_tracked is the trained model's.
  assert.deepEqual(averaged.get("bn1.num_batches_tracked"), current.get("bn1.num_batches_tracked"));
  console.log(`ema: worst relative error against PyTorch ${worst.toExponential(2)}`);
});
