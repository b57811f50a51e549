import assert from "node:assert/strict";
import { compose, kernel, submit } from "../../src/gpu/kernel.ts";
import { testGpu } from "../_gpu.ts";

// Two read-only arrays of one type: bound by position, a swap would pass validation and compute b - a.
const difference = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> difference: array<f32>;
// The variant's own view of binding 1: it never uses b.
@group(0) @binding(1) var<storage, read_write> negated_a: array<f32>;

fn subtrahend(i: u32) -> f32 { return b[i]; }

@compute @workgroup_size(4)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  difference[gid.x] = a[gid.x] - subtrahend(gid.x);
}

@compute @workgroup_size(4)
fn negate(@builtin(global_invocation_id) gid: vec3u) {
  negated_a[gid.x] = -a[gid.x];
}`;

const PARAMS = `
struct Params {
  count: u32,
  offset: i32, // a comment between fields
  scale: f32,
  last_word: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
`;

// Copies every uniform field's bits out, so the test sees exactly what was packed.
const echo = compose(
  PARAMS,
  `@group(0) @binding(1) var<storage, read_write> words: array<u32>;
@compute @workgroup_size(1)
fn main() {
  words[0] = p.count;
  words[1] = bitcast<u32>(p.offset);
  words[2] = bitcast<u32>(p.scale);
  words[3] = p.last_word;
}`,
);

Deno.test("bindings are matched by name, whatever the order the call site lists them in", async () => {
  const gpu = await testGpu();
  const a = gpu.upload("a", new Float32Array([10, 20, 30, 40]));
  const b = gpu.upload("b", new Float32Array([1, 2, 3, 4]));
  const out = gpu.buffer("difference", 16);
  submit(gpu, [
    kernel(gpu, {
      label: "test: subtract",
      code: difference,
      bindings: { difference: out, b, a },
      workgroups: [1, 1, 1],
    }),
  ]);
  assert.deepEqual([...await gpu.readFloats(out, 0, 4)], [9, 18, 27, 36]);
  submit(gpu, [
    kernel(gpu, {
      label: "test: negate",
      code: difference,
      entryPoint: "negate",
      bindings: { a, negatedA: out },
      workgroups: [1, 1, 1],
    }),
  ]);
  assert.deepEqual([...await gpu.readFloats(out, 0, 4)], [-10, -20, -30, -40]);
});

Deno.test("making a kernel with a new pipeline dispatches it empty, which writes nothing", async () => {
  const gpu = await testGpu();
  const out = gpu.buffer("filled", 16);
  const fill = kernel(gpu, {
    label: "test: fill",
    // A pipeline of its own: no other test makes this one.
    code: `@group(0) @binding(0) var<storage, read_write> filled: array<f32>;
@compute @workgroup_size(4)
fn main(@builtin(global_invocation_id) gid: vec3u) { filled[gid.x] = 7.0; }`,
    bindings: { filled: out },
    workgroups: [1, 1, 1],
  });
  assert.deepEqual([...await gpu.readFloats(out, 0, 4)], [0, 0, 0, 0]);
  submit(gpu, [fill]);
  assert.deepEqual([...await gpu.readFloats(out, 0, 4)], [7, 7, 7, 7]);
});

Deno.test("a missing, unknown or wrongly named binding fails naming the kernel and the names expected", async () => {
  const gpu = await testGpu();
  const buffer = gpu.buffer("any", 16);
  const make = (bindings: Record<string, GPUBuffer>, entryPoint?: string) =>
    kernel(gpu, { label: "layer3: subtract", code: difference, entryPoint, bindings, workgroups: [1, 1, 1] });
  assert.throws(
    () => make({ a: buffer, difference: buffer }),
    /^Error: layer3: subtract: bindings of main: missing b \(expected a, b, difference\)$/,
  );
  assert.throws(
    () => make({ a: buffer, b: buffer, difference: buffer, c: buffer }),
    /layer3: subtract: bindings of main: unknown c \(expected a, b, difference\)/,
  );
  // The WGSL name, not the caller's camelCase of it.
  assert.throws(
    () => make({ a: buffer, negated_a: buffer }, "negate"),
    /layer3: subtract: bindings of negate: missing negatedA; unknown negated_a \(expected a, negatedA\)/,
  );
  // Declared by the shader, but not used by this entry point.
  assert.throws(
    () => make({ a: buffer, b: buffer, negatedA: buffer }, "negate"),
    /layer3: subtract: bindings of negate: unknown b \(expected a, negatedA\)/,
  );
  assert.throws(() => make({}, "sum"), /layer3: subtract: the shader has no entry point sum/);
});

Deno.test("named uniforms are packed as the shader's struct declares each field", async () => {
  const gpu = await testGpu();
  const words = gpu.buffer("words", 16);
  submit(gpu, [
    kernel(gpu, {
      label: "test: echo",
      code: echo,
      uniforms: { lastWord: 0xffffffff, scale: 2.5, count: 7, offset: -3 },
      bindings: { words },
      workgroups: [1, 1, 1],
    }),
  ]);
  const expected = new Uint32Array(4);
  const view = new DataView(expected.buffer);
  view.setUint32(0, 7, true);
  view.setInt32(4, -3, true);
  view.setFloat32(8, 2.5, true);
  view.setUint32(12, 0xffffffff, true);
  assert.deepEqual([...new Uint32Array(await gpu.read(words, 0, 16))], [...expected]);
});

Deno.test("a missing or extra uniform field, or a value its type cannot hold, fails naming the kernel", async () => {
  const gpu = await testGpu();
  const words = gpu.buffer("words", 16);
  const make = (uniforms?: Record<string, number>) =>
    kernel(gpu, { label: "head: echo", code: echo, uniforms, bindings: { words }, workgroups: [1, 1, 1] });
  const all = { count: 1, offset: 0, scale: 1, lastWord: 0 };
  assert.throws(
    () => make({ count: 1, offset: 0, scale: 1 }),
    /head: echo: uniforms: missing lastWord \(expected count, offset, scale, lastWord\)/,
  );
  assert.throws(() => make({ ...all, eps: 0 }), /head: echo: uniforms: unknown eps/);
  assert.throws(() => make(), /head: echo: uniforms missing \(expected count, offset, scale, lastWord\)/);
  assert.throws(() => make({ ...all, count: -1 }), /head: echo: uniform count: -1 does not fit u32/);
  assert.throws(() => make({ ...all, offset: 0.5 }), /head: echo: uniform offset: 0.5 does not fit i32/);
  const a = gpu.buffer("a", 16);
  assert.throws(
    () =>
      kernel(gpu, {
        label: "test: subtract",
        code: difference,
        uniforms: { count: 4 },
        bindings: { a, b: a, difference: a },
        workgroups: [1, 1, 1],
      }),
    /test: subtract: uniforms given, but the entry point uses none/,
  );
});
