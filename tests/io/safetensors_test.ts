import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
} from "../../src/io/safetensors.ts";
import { decodeTensorBytes, encodeTensorData, type StateDict } from "../../src/io/state_dict.ts";
import { jsonFloat, loadIoFixtures, loadResnet20Fixture } from "../_fixtures.ts";
import { deterministicStateDict } from "../_weights.ts";

/** A safetensors file with the given header (serialized as is) and data section. */
function rawFile(header: unknown, data = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sample(): StateDict {
  return new Map([
    ["conv.weight", {
      shape: [2, 1, 1, 3],
      dtype: "F32",
      data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]),
    }],
    ["bn.num_batches_tracked", { shape: [], dtype: "I64", data: new BigInt64Array([123456789012345n]) }],
    ["half", { shape: [3], dtype: "F16", data: new Float32Array([0.5, -65504, 2 ** -24]) }],
    ["brain", { shape: [2], dtype: "BF16", data: new Float32Array([3.125, -(2 ** 100)]) }],
    ["empty", { shape: [0, 4], dtype: "F32", data: new Float32Array(0) }],
    ["scalar", { shape: [], dtype: "F32", data: new Float32Array([7.25]) }],
  ]);
}

function sortedEntries(dict: StateDict) {
  return [...dict].sort(([a], [b]) => a < b ? -1 : 1);
}

Deno.test("safetensors round trip keeps names, shapes, dtypes, values and metadata", () => {
  const bytes = encodeSafetensors(sample(), { metadata: { format: "pt", epoch: "3" } });
  const { tensors, metadata } = decodeSafetensors(bytes, "sample.safetensors");
  assert.deepEqual(metadata, { format: "pt", epoch: "3" });
  // F16 and BF16 values above are exactly representable, so the round trip is exact.
  assert.deepEqual(sortedEntries(tensors), sortedEntries(sample()));
});

Deno.test("the writer pads the header to 8 bytes and lays tensors out by element size, then name", () => {
  const bytes = encodeSafetensors(sample());
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(length % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  assert.deepEqual(Object.keys(header), [
    "bn.num_batches_tracked",
    "conv.weight",
    "empty",
    "scalar",
    "brain",
    "half",
  ]);
  assert.deepEqual(header["conv.weight"], { dtype: "F32", shape: [2, 1, 1, 3], data_offsets: [8, 32] });
  assert.ok(!("__metadata__" in header));
});

Deno.test("floatDType stores every float tensor as F16 or BF16, rounding to nearest even", () => {
  const dict: StateDict = new Map([
    ["w", {
      shape: [4],
      dtype: "F32",
      data: new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, 1 / 3]),
    }],
    ["n", { shape: [], dtype: "I64", data: new BigInt64Array([5n]) }],
  ]);
  const half = decodeSafetensors(encodeSafetensors(dict, { floatDType: "F16" })).tensors;
  assert.equal(half.get("w")!.dtype, "F16");
  assert.deepEqual([...half.get("w")!.data], [1, 1 + 2 ** -9, Infinity, Math.f16round(1 / 3)]);
  assert.equal(half.get("n")!.dtype, "I64");
  const brain = decodeSafetensors(encodeSafetensors(dict, { floatDType: "BF16" })).tensors.get("w")!;
  assert.equal(brain.dtype, "BF16");
  assert.deepEqual([...brain.data], [1, 1, 70144, 0.333984375]);
});

Deno.test("F16 and BF16 encoding matches PyTorch's rounding on special values", async () => {
  const { dtypesExpected } = await loadIoFixtures();
  const source = Float32Array.from(dtypesExpected.f32.values, jsonFloat);
  for (const dtype of ["F16", "BF16"] as const) {
    const expected = dtypesExpected[dtype.toLowerCase()].values.map(jsonFloat);
    const actual = decodeTensorBytes(encodeTensorData(source, dtype), dtype);
    expected.forEach((value, i) =>
      assert.ok(Object.is(actual[i], value), `${dtype}[${i}]: ${actual[i]} vs ${value}`)
    );
  }
});

Deno.test("Python-written safetensors read back exactly and re-encode byte for byte", async () => {
  const io = await loadIoFixtures();
  const bytes = await Deno.readFile(io.dtypesSafetensors);
  const { tensors, metadata } = decodeSafetensors(bytes, "dtypes.safetensors");
  assert.deepEqual(metadata, { format: "pt", note: "special values" });
  assert.deepEqual([...tensors.keys()].sort(), ["bf16", "empty", "f16", "f32", "i64", "scalar"]);
  for (const [name, tensor] of tensors) {
    const expected = io.dtypesExpected[name];
    assert.deepEqual(tensor.shape, expected.shape, name);
    assert.equal(tensor.dtype, expected.dtype, name);
    const values = tensor.data instanceof BigInt64Array
      ? expected.values.map((v) => BigInt(v))
      : expected.values.map(jsonFloat);
    assert.deepEqual([...tensor.data], values, name);
  }
  assert.deepEqual(encodeSafetensors(tensors, { metadata }), bytes);
});

Deno.test("ResNet-20 safetensors from Python equal the generator's state dict, F16 copy rounds it", async () => {
  const fixture = await loadResnet20Fixture();
  const expected = deterministicStateDict(fixture.stateDict, fixture.weightSeed);
  const f32 = await loadSafetensors(fixture.safetensors);
  assert.deepEqual(f32.metadata, fixture.metadata);
  assert.deepEqual(sortedEntries(f32.tensors), sortedEntries(expected));
  assert.deepEqual(
    encodeSafetensors(expected, { metadata: fixture.metadata }),
    await Deno.readFile(fixture.safetensors),
  );
  const f16 = await loadSafetensors(fixture.safetensorsF16);
  for (const [name, tensor] of expected) {
    const half = f16.tensors.get(name)!;
    if (tensor.data instanceof Float32Array) {
      assert.equal(half.dtype, "F16");
      assert.deepEqual(half.data, tensor.data.map(Math.f16round), name);
    } else assert.deepEqual(half, tensor, name);
  }
  const encoded = encodeSafetensors(expected, { metadata: fixture.metadata, floatDType: "F16" });
  assert.deepEqual(encoded, await Deno.readFile(fixture.safetensorsF16));
});

Deno.test("saveSafetensors writes atomically and loadSafetensors reads it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    await Deno.writeTextFile(path, "old contents");
    await saveSafetensors(path, sample(), { metadata: { step: "1" } });
    const { tensors, metadata } = await loadSafetensors(path);
    assert.deepEqual(metadata, { step: "1" });
    assert.deepEqual(sortedEntries(tensors), sortedEntries(sample()));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
    await assert.rejects(loadSafetensors(`${dir}/missing.safetensors`), /cannot read .*missing\.safetensors/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the writer refuses data that does not fit its shape or dtype", () => {
  const bad: StateDict = new Map([["w", { shape: [3], dtype: "F32", data: new Float32Array(2) }]]);
  assert.throws(() => encodeSafetensors(bad), /tensor "w": 2 values do not fill shape \[3\]/);
  const ints: StateDict = new Map([["w", { shape: [1], dtype: "I64", data: new Float32Array(1) }]]);
  assert.throws(() => encodeSafetensors(ints), /tensor "w": float32 data cannot be stored as I64/);
});

const f32 = (shape: number[], begin: number, end: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end],
});

/** Each malformed file, and what its error must say (always with the file name). */
const malformed: Array<[string, Uint8Array, RegExp]> = [
  ["a file shorter than 8 bytes", new Uint8Array(5), /5 bytes is too short/],
  [
    "a header length past the end",
    (() => {
      const bytes = rawFile({});
      new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
      return bytes;
    })(),
    /header length 1000 exceeds the 2 bytes/,
  ],
  ["a header that is not JSON", rawFile(null, undefined, "{not json"), /not valid UTF-8 JSON/],
  [
    "a header that is invalid UTF-8",
    rawFile(null, undefined, '{"\xff"}').map((b, i) => i === 10 ? 0xff : b),
    /not valid UTF-8 JSON/,
  ],
  ["a header that is a JSON array", rawFile([1, 2]), /the header is not a JSON object/],
  ["an entry that is not an object", rawFile({ w: 3 }), /tensor "w": its header entry is not an object/],
  [
    "a missing dtype",
    rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor "w": "dtype" is missing/,
  ],
  [
    "an unknown dtype",
    rawFile({ w: { ...f32([1], 0, 4), dtype: "F33" } }, new Uint8Array(4)),
    /tensor "w": unknown dtype "F33"/,
  ],
  [
    "an unsupported dtype",
    rawFile({ w: { ...f32([1], 0, 8), dtype: "F64" } }, new Uint8Array(8)),
    /tensor "w": dtype F64 is not supported \(supported: F32, F16, BF16, I64\)/,
  ],
  [
    "a negative dimension",
    rawFile({ w: f32([-1], 0, 4) }, new Uint8Array(4)),
    /tensor "w": "shape" must be an array of non-negative integers, got \[-1\]/,
  ],
  ["a fractional dimension", rawFile({ w: f32([1.5], 0, 4) }, new Uint8Array(4)), /tensor "w": "shape"/],
  [
    "offsets that are not a pair",
    rawFile({ w: { ...f32([1], 0, 4), data_offsets: [0] } }, new Uint8Array(4)),
    /tensor "w": "data_offsets" must be \[begin, end\]/,
  ],
  ["offsets in reverse", rawFile({ w: f32([0], 4, 0) }, new Uint8Array(4)), /tensor "w": "data_offsets"/],
  [
    "offsets past the end (truncated data)",
    rawFile({ a: f32([2], 0, 8), w: f32([4], 8, 24) }, new Uint8Array(20)),
    /tensor "w": its bytes \[8, 24\) run past the end of the data section \(20 bytes\)/,
  ],
  [
    "a size that does not match the shape",
    rawFile({ w: f32([3], 0, 8) }, new Uint8Array(8)),
    /tensor "w": 8 bytes in the file, but shape \[3\] of F32 needs 12/,
  ],
  [
    "overlapping tensors",
    rawFile({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, new Uint8Array(12)),
    /tensor "b" \(bytes \[4, 12\)\) overlaps tensor "a" \(bytes \[0, 8\)\)/,
  ],
  [
    "a hole between tensors",
    rawFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12)),
    /bytes \[4, 8\) of the data section belong to no tensor \(before "b"\)/,
  ],
  [
    "bytes after the last tensor",
    rawFile({ a: f32([1], 0, 4) }, new Uint8Array(6)),
    /2 byte\(s\) after the last tensor/,
  ],
  [
    "metadata that is not a string map",
    rawFile({ __metadata__: { epoch: 3 } }),
    /"__metadata__" must be an object/,
  ],
];

for (const [what, bytes, message] of malformed) {
  Deno.test(`a safetensors file with ${what} is rejected with a clear error`, () => {
    assert.throws(
      () => decodeSafetensors(bytes, "bad.safetensors"),
      (error: Error) => {
        assert.match(error.message, /^bad\.safetensors: invalid safetensors file: /);
        assert.match(error.message, message);
        return true;
      },
    );
  });
}

Deno.test("a truncated copy of a real file is rejected, naming the tensor that runs past the end", async () => {
  const { safetensors } = await loadResnet20Fixture();
  const bytes = await Deno.readFile(safetensors);
  assert.throws(
    () => decodeSafetensors(bytes.subarray(0, bytes.length - 100), "cut.safetensors"),
    /^Error: cut\.safetensors: invalid safetensors file: tensor "layer3\.2\.conv2\.weight": its bytes .* run past/,
  );
  assert.throws(
    () => decodeSafetensors(bytes.subarray(0, 100), "cut.safetensors"),
    /header length \d+ exceeds/,
  );
});

Deno.test("empty and zero-size tensors may share an offset", () => {
  const bytes = rawFile({ a: f32([0], 0, 0), b: f32([0, 2], 0, 0), c: f32([1], 0, 4) }, new Uint8Array(4));
  const { tensors } = decodeSafetensors(bytes);
  assert.deepEqual(tensors.get("b"), { shape: [0, 2], dtype: "F32", data: new Float32Array(0) });
  assert.equal(tensors.size, 3);
});
