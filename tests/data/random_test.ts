import assert from "node:assert/strict";
import { draw, epochOrder, mix32, sampleSeed, seed32 } from "../../src/data/random.ts";

Deno.test("mix32 is lowbias32 in u32 arithmetic", () => {
  // The same steps in exact BigInt arithmetic, masked to 32 bits.
  assert.equal(mix32(0), 0);
  for (const x of [1, 2, 0xffffffff, 0x80000000, 123456789]) {
    let v = BigInt(x);
    const m = 0xffffffffn;
    v ^= v >> 16n;
    v = (v * 0x7feb352dn) & m;
    v ^= v >> 15n;
    v = (v * 0x846ca68bn) & m;
    v ^= v >> 16n;
    assert.equal(mix32(x), Number(v), `mix32(${x})`);
  }
});

Deno.test("draws and sample seeds are u32 and depend on every input", () => {
  const seeds = new Set<number>();
  for (const [seed, epoch, position] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2 ** 40, 0, 0]]) {
    const s = sampleSeed(seed, epoch, position);
    assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
    seeds.add(s);
  }
  assert.equal(seeds.size, 5);
  const draws = [0, 1, 2, 3, 4].map((k) => draw(12345, k));
  assert.equal(new Set(draws).size, 5);
  assert.ok(draws.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff));
});

Deno.test("seeds fold to 32 bits, keeping small seeds as they are", () => {
  assert.equal(seed32(7), 7);
  assert.equal(seed32(0xffffffff), 0xffffffff);
  assert.notEqual(seed32(2 ** 32 + 7), 7);
  assert.throws(() => seed32(-1), /non-negative safe integer/);
  assert.throws(() => seed32(1.5), /non-negative safe integer/);
});

Deno.test("an epoch's order is a seeded permutation, new every epoch, identity without shuffling", () => {
  const n = 1000;
  const a = epochOrder(n, true, 42, 3);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(epochOrder(n, true, 42, 3), a);
  assert.notDeepEqual(epochOrder(n, true, 42, 4), a);
  assert.notDeepEqual(epochOrder(n, true, 43, 3), a);
  assert.deepEqual([...epochOrder(5, false, 42, 3)], [0, 1, 2, 3, 4]);
  // Roughly uniform: each position's first element is spread over the data set.
  const firsts = new Set(Array.from({ length: 200 }, (_, e) => epochOrder(50, true, 1, e)[0]));
  assert.ok(firsts.size > 30, `only ${firsts.size} distinct first samples`);
});
