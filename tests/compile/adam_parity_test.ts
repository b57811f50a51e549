/**
 * Three Adam and AdamW steps of ResNet-20 against PyTorch's (fixtures made by tools/make_adam_fixtures.py
 * with Debian's torch 1.13; weights, inputs and labels from the deterministic generator in
 * tests/_weights.ts).
 */
import assert from "node:assert/strict";
import { resnet20 } from "../../src/models/resnet.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { UNTUNED } from "../../src/ops/conv2d.ts";
import type { AdamStateDict } from "../../src/optim/adam_state.ts";
import { relativeError, testGpu } from "../_gpu.ts";
import { deterministicInput, deterministicStateDict } from "../_weights.ts";

// The SGD parity's bar (tests/models/torchvision_parity_test.ts): max abs difference relative to the
// tensor's max abs value.
const STEP_TOLERANCE = 1e-3;

interface Run {
  optimizer: "adam" | "adamw";
  options: { lr: number; betas?: [number, number]; eps: number; weight_decay: number; amsgrad?: boolean };
  step: number;
  steps: { inputSeed: number; labels: number[]; loss: number }[];
  sampleIndices: Record<string, number[]>;
  stateDict: Array<[string, number[]]>;
  data: { file: string; arrays: Record<string, { offset: number; shape: number[] }> };
}

const ROOT = new URL("../fixtures/adam/", import.meta.url);
const manifest = JSON.parse(await Deno.readTextFile(new URL("adam.json", ROOT))) as {
  weightSeed: number;
  inputShape: number[];
  numClasses: number;
  runs: Run[];
};

for (const run of manifest.runs) {
  Deno.test(`resnet20: three ${run.optimizer} steps equal torch.optim's parameters and state`, async () => {
    const bytes = await Deno.readFile(new URL(run.data.file.replace(/^adam\//, ""), ROOT));
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const array = (key: string) => {
      const { offset, shape } = run.data.arrays[key];
      return all.subarray(offset, offset + shape.reduce((a, b) => a * b, 1));
    };
    const initial = deterministicStateDict(run.stateDict, manifest.weightSeed);
    const model = resnet20({ numClasses: manifest.numClasses });
    model.loadStateDict(initial);
    const [batch, ...inputShape] = manifest.inputShape;
    const { lr, betas, eps, weight_decay: weightDecay, amsgrad } = run.options;
    const training = await TrainingStep.compile(await testGpu(), model, {
      batchSize: batch,
      inputShape,
      optimizer: { kind: run.optimizer, lr, betas, eps, weightDecay, amsgrad },
      // The direct convolutions, as PyTorch computes them: Adam scales a gradient by its own size, so
      // Winograd's rounding (tests/ops/conv2d_winograd_test.ts) would show in the parameters.
      tuning: UNTUNED,
    });
    for (const [index, step] of run.steps.entries()) {
      training.setBatch(deterministicInput(manifest.inputShape, step.inputSeed), step.labels);
      training.step();
      const { loss } = await training.readStats();
      assert.ok(
        Math.abs(loss - step.loss) <= STEP_TOLERANCE * step.loss,
        `step ${index}: loss ${loss} vs ${step.loss}`,
      );
    }
    await training.model.download();
    const state = model.stateDict();
    let worst = 0;
    for (const [name, indices] of Object.entries(run.sampleIndices)) {
      const full = state.get(name)!.data as Float32Array;
      const error = relativeError(indices.map((i) => full[i]), array(`valueSamples.${name}`));
      worst = Math.max(worst, error);
      assert.ok(error <= STEP_TOLERANCE, `${name}: relative error ${error} after ${run.steps.length} steps`);
      const whole = run.data.arrays[`value.${name}`] ? array(`value.${name}`) : undefined;
      if (whole) {
        // The steps move each of these tensors by more than twice the tolerance (BatchNorm's weights, near 1),
        // up to 30 times it (fc.bias), so that an optimizer that did nothing would fail.
        const moved = relativeError(initial.get(name)!.data as Float32Array, whole);
        assert.ok(moved > 2 * STEP_TOLERANCE, `${name}: the steps moved it by only ${moved}`);
        const wholeError = relativeError(full, whole);
        worst = Math.max(worst, wholeError);
        assert.ok(wholeError <= STEP_TOLERANCE, `${name} (whole tensor): relative error ${wholeError}`);
      }
    }
    const optimizerState = await training.optimizerState() as AdamStateDict;
    const id = optimizerState.param_groups[0].param_names!.indexOf("fc.weight");
    const fc = optimizerState.state[id];
    assert.deepEqual(fc.step, { shape: [], dtype: "F32", data: new Float32Array([run.step]) });
    for (const key of ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] as const) {
      if (!run.data.arrays[`fc.weight.${key}`]) {
        assert.equal(fc[key], undefined, `${key} only with amsgrad`);
        continue;
      }
      const error = relativeError(fc[key]!.data as Float32Array, array(`fc.weight.${key}`));
      worst = Math.max(worst, error);
      assert.ok(error <= STEP_TOLERANCE, `fc.weight ${key}: relative error ${error}`);
    }
    console.log(`${run.optimizer}: worst relative error against PyTorch ${worst.toExponential(2)}`);
  });
}
