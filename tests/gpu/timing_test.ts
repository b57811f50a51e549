import assert from "node:assert/strict";
import { kernel } from "../../src/gpu/kernel.ts";
import { timeDispatches, timeEach } from "../../src/gpu/timing.ts";
import { testGpu } from "../_gpu.ts";

const busy = `
override ITERATIONS: u32;
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  var x = f32(gid.x);
  for (var i = 0u; i < ITERATIONS; i++) { x = fma(x, 0.999, 0.5); }
  y[gid.x] = x;
}`;

Deno.test("timeDispatches measures GPU time per run, the wait excluded", async () => {
  const gpu = await testGpu();
  const y = gpu.buffer("y", 64 * 64 * 4);
  const work = (iterations: number) =>
    kernel(gpu, {
      label: "test: busy",
      code: busy,
      constants: { ITERATIONS: iterations },
      bindings: { y },
      workgroups: [64, 1, 1],
    });
  let prepared = 0;
  const light = await timeDispatches(gpu, [work(2048)], { minMilliseconds: 20, prepare: () => prepared++ });
  const heavy = await timeDispatches(gpu, [work(8 * 2048)], { minMilliseconds: 20 });
  // A cold and a warm run, then three timings, each prepared.
  assert.equal(prepared, 5);
  assert.ok(light > 0 && Number.isFinite(light), `light: ${light} ms`);
  // 8 times the work: well over 3 times the time, even on a noisy machine, unless the wait were counted.
  assert.ok(heavy > 3 * light, `8x the work took ${heavy} ms against ${light} ms`);
  // Timed in turn, the same two keep their order.
  const [first, second] = await timeEach(gpu, [[work(8 * 2048)], [work(2048)]], { minMilliseconds: 20 });
  assert.ok(first > 3 * second, `8x the work took ${first} ms against ${second} ms, timed in turn`);
});
