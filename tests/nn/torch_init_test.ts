// Our Generator against PyTorch's CPU generator after torch.manual_seed (tests/fixtures/init, made by
// tools/make_init_fixtures.py with Debian's torch 1.13). The random words are the same; torch computes the
// Box-Muller transform and the uniform scaling in float32 (vectorised), we in float64 rounded to float32, so
// values agree to within 8 float32 ulps of the distribution's scale (its std or bound).
import assert from "node:assert/strict";
import { Generator, normal, uniform } from "../../src/nn/init.ts";
import { Parameter } from "../../src/nn/parameter.ts";
import { buildModel, type ModelName } from "../../src/models/table.ts";
import type { Stem } from "../../src/models/resnet.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/init/torch_init.json", import.meta.url)),
);

function assertClose(actual: ArrayLike<number>, expected: number[], scale: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 8 * 2 ** -23 * Math.max(Math.abs(expected[i]), scale);
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${what}[${i}]: ${actual[i]} against torch's ${expected[i]}`,
    );
  }
}

function tensor(length: number): Parameter {
  return new Parameter([length], "parameter");
}

Deno.test("Generator draws torch.rand's numbers after torch.manual_seed", () => {
  const generator = new Generator(fixture.rand.seed);
  assert.deepEqual(fixture.rand.values.map(() => generator.uniform()), fixture.rand.values);
  const aliased = new Generator(2 ** 32 + fixture.rand.seed);
  assert.equal(aliased.uniform(), fixture.rand.values[0], "only the seed's low 32 bits count, as torch's");
});

Deno.test("normal fills as torch's Tensor.normal_: below 16 values, 16 and above, and a ragged tail", () => {
  const small = new Generator(fixture.normalSmall.seed);
  const drawn = fixture.normalSmall.lengths.flatMap((n: number) => {
    const t = tensor(n);
    normal(t, 0, 1, small);
    return [...t.data];
  });
  assertClose(drawn, fixture.normalSmall.values, 1, "normal_ of 5 then 3");
  const long = new Generator(fixture.normalLong.seed);
  fixture.normalLong.lengths.forEach((n: number, i: number) => {
    const t = tensor(n);
    normal(t, fixture.normalLong.mean, fixture.normalLong.std, long);
    assertClose(t.data, fixture.normalLong.values[i], fixture.normalLong.std, `normal_ of ${n}`);
  });
});

Deno.test("uniform fills as torch's Tensor.uniform_(-bound, bound)", () => {
  const t = tensor(fixture.uniform.values.length);
  uniform(t, fixture.uniform.bound, new Generator(fixture.uniform.seed));
  assertClose(t.data, fixture.uniform.values, fixture.uniform.bound, "uniform_");
});

Deno.test("a seeded model starts with the weights PyTorch's starts with after torch.manual_seed(seed)", () => {
  for (const entry of fixture.models) {
    const model = buildModel(entry.model as ModelName, {
      numClasses: entry.numClasses,
      stem: entry.stem as Stem,
      seed: entry.seed,
    });
    const state = model.stateDict();
    const what = `${entry.model} (${entry.stem} stem, seed ${entry.seed})`;
    for (const [key, expected] of Object.entries(entry.tensors) as [string, TensorSummary][]) {
      const data = state.get(key)?.data as Float32Array | undefined;
      assert.ok(data, `${what}: no ${key}`);
      const rms = Math.sqrt(expected.sumSquares / data.length);
      assertClose(data.subarray(0, expected.first.length), expected.first, rms, `${what} ${key}`);
      let sum = 0, squares = 0;
      for (const x of data) [sum, squares] = [sum + x, squares + x * x];
      assert.ok(Math.abs(squares / expected.sumSquares - 1) < 1e-6, `${what} ${key}: sum of squares`);
      // torch's float32 rounding leans a hair (about 2e-8 of the std) the other way than ours.
      assert.ok(Math.abs(sum - expected.sum) < 1e-7 * data.length * rms, `${what} ${key}: sum`);
    }
  }
});

interface TensorSummary {
  first: number[];
  sum: number;
  sumSquares: number;
}
