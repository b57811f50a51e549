import assert from "node:assert/strict";
import { grid, kernel, submit } from "../../src/gpu/kernel.ts";
import { testGpu } from "../_gpu.ts";

const scale = `
struct Params { n: u32, factor: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i < p.n) { y[i] = x[i] * p.factor; }
}`;

Deno.test("a kernel with uniforms and storage buffers runs and reads back", async () => {
  const gpu = await testGpu();
  const x = gpu.upload("x", new Float32Array([1, 2, 3, 4, 5]));
  const y = gpu.buffer("y", 20);
  submit(gpu, [
    kernel(gpu, {
      label: "test: scale",
      code: scale,
      uniforms: { n: 5, factor: 2.5 },
      bindings: { x, y },
      workgroups: grid(5, 64),
    }),
  ]);
  assert.deepEqual([...await gpu.readFloats(y, 0, 5)], [2.5, 5, 7.5, 10, 12.5]);
});

Deno.test("grid spreads large counts over two dimensions", () => {
  assert.deepEqual(grid(100, 64), [2, 1, 1]);
  const [x, y] = grid(65536 * 64 * 3, 64);
  assert.ok(x <= 65535 && x * y >= 65536 * 3);
});

Deno.test("a WebGPU validation error names the layer and op", async () => {
  const gpu = await testGpu();
  await assert.rejects(
    gpu.checked("layer9: conv2d forward", () => gpu.device.createShaderModule({ code: "fn broken( {" })),
    /layer9: conv2d forward: WebGPU validation error/,
  );
});
