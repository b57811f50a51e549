import assert from "node:assert/strict";
import { fans, Generator, kaimingNormal, kaimingUniform } from "../../src/nn/init.ts";
import { Conv2d, Linear } from "../../src/nn/layers.ts";
import { Parameter } from "../../src/nn/parameter.ts";

const rms = (data: Float32Array) => Math.sqrt(data.reduce((sum, x) => sum + x * x, 0) / data.length);
const largest = (data: Float32Array) => data.reduce((max, x) => Math.max(max, Math.abs(x)), 0);

Deno.test("a generator's stream is a function of its seed; without one it takes a fresh seed", () => {
  const draws = (generator: Generator) => Array.from({ length: 4 }, () => generator.uniform());
  assert.deepEqual(draws(new Generator(7)), draws(new Generator(7)));
  assert.notDeepEqual(draws(new Generator(7)), draws(new Generator(8)));
  assert.notEqual(new Generator().initialSeed, new Generator().initialSeed);
  assert.equal(new Generator(7).initialSeed, 7);
  for (const seed of [-1, 1.5, 2 ** 53]) {
    assert.throws(() => new Generator(seed), /seed must be a non-negative safe integer/);
  }
});

Deno.test("fans and the Kaiming initialisations follow torch.nn.init", () => {
  const weight = new Parameter([128, 64, 3, 3], "parameter");
  assert.deepEqual(fans(weight), { fanIn: 576, fanOut: 1152 });
  assert.throws(() => fans(new Parameter([5], "parameter")), /2 or more dimensions/);
  const generator = new Generator(1);
  kaimingNormal(weight, { mode: "fanOut", generator });
  assert.ok(Math.abs(rms(weight.data) / Math.sqrt(2 / 1152) - 1) < 0.02, `rms ${rms(weight.data)}`);
  kaimingUniform(weight, { a: Math.sqrt(5), generator });
  assert.ok(largest(weight.data) <= 1 / Math.sqrt(576) + 1e-7);
  assert.ok(largest(weight.data) > 0.99 / Math.sqrt(576));
});

Deno.test("plain Conv2d and Linear start as PyTorch's defaults, reproducibly from a generator", () => {
  const conv = new Conv2d(16, 32, 3, { generator: new Generator(3) });
  const bound = 1 / Math.sqrt(16 * 9);
  for (const p of [conv.weight, conv.bias!]) {
    assert.ok(largest(p.data) <= bound + 1e-7 && largest(p.data) > 0.9 * bound, p.shape.join("x"));
  }
  assert.deepEqual(new Conv2d(16, 32, 3, { generator: new Generator(3) }).weight.data, conv.weight.data);
  assert.notDeepEqual(new Conv2d(16, 32, 3).weight.data, conv.weight.data);
  const fc = new Linear(100, 10, { generator: new Generator(3) });
  assert.ok(largest(fc.weight.data) <= 0.1 + 1e-7 && largest(fc.bias!.data) <= 0.1 + 1e-7);
  assert.deepEqual(new Linear(100, 10, { generator: new Generator(3) }).bias!.data, fc.bias!.data);
});
