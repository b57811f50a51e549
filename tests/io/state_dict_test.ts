import assert from "node:assert/strict";
import {
  decodeTensorBytes,
  elementCount,
  encodeTensorData,
  itemSize,
  matchStateDict,
  type StateDict,
} from "../../src/io/state_dict.ts";

const expected = new Map<string, readonly number[]>([
  ["conv1.weight", [16, 3, 3, 3]],
  ["bn1.weight", [16]],
  ["bn1.num_batches_tracked", []],
  ["fc.weight", [10, 64]],
  ["fc.bias", [10]],
]);

function dict(entries: Array<[string, number[]]>): StateDict {
  return new Map(entries.map(([name, shape]) => [name, {
    shape,
    dtype: "F32" as const,
    data: new Float32Array(elementCount(shape)),
  }]));
}

Deno.test("a state dict that fits matches every key, strict or not", () => {
  const given = dict([...expected].map(([name, shape]) => [name, [...shape]]));
  const result = matchStateDict(expected, given, { strict: true, source: "ok.pth" });
  assert.deepEqual(result, { matched: [...expected.keys()], missing: [], unexpected: [], mismatched: [] });
});

Deno.test("strict matching throws one error listing every missing, unexpected and mismatched key", () => {
  const given = dict([["conv1.weight", [16, 3, 7, 7]], ["bn1.weight", [16]], ["fc.weight", [10, 64]], [
    "head.w",
    [3],
  ]]);
  assert.throws(
    () => matchStateDict(expected, given, { strict: true, source: "other.safetensors" }),
    (error: Error) => {
      assert.equal(
        error.message,
        [
          "other.safetensors does not fit the model:",
          "  1 missing key(s):",
          "    fc.bias [10]",
          "  1 unexpected key(s):",
          "    head.w [3]",
          "  1 shape mismatch(es):",
          "    conv1.weight: the model has [16, 3, 3, 3], the file has [16, 3, 7, 7]",
          "  (load with strict: false to take only the matching keys)",
        ].join("\n"),
      );
      return true;
    },
  );
});

Deno.test("non-strict matching returns what fits and lists the rest", () => {
  const given = dict([["conv1.weight", [16, 3, 7, 7]], ["bn1.weight", [16]], ["fc.weight", [10, 64]], [
    "head.w",
    [3],
  ]]);
  assert.deepEqual(matchStateDict(expected, given, { strict: false, source: "x" }), {
    matched: ["bn1.weight", "fc.weight"],
    missing: ["bn1.num_batches_tracked", "fc.bias"],
    unexpected: ["head.w"],
    mismatched: ["conv1.weight"],
  });
});

Deno.test("missing num_batches_tracked is tolerated in strict mode, as PyTorch does for old checkpoints", () => {
  const given = dict(
    [...expected].filter(([name]) => !name.endsWith("num_batches_tracked")).map((
      [name, shape],
    ) => [name, [...shape]]),
  );
  const result = matchStateDict(expected, given, { strict: true, source: "resnet18-f37072fd.pth" });
  assert.deepEqual(result.missing, ["bn1.num_batches_tracked"]);
  assert.equal(result.matched.length, 4);
});

Deno.test("keys saved with a wrapper's prefix get a hint", () => {
  const given = dict([...expected].map(([name, shape]) => [`module.${name}`, [...shape]]));
  assert.throws(
    () => matchStateDict(expected, given, { strict: true, source: "ddp.pth" }),
    /hint: the file's keys start with "module\."; strip that prefix before loading/,
  );
});

Deno.test("tensor bytes encode and decode for every dtype", () => {
  assert.deepEqual([itemSize("F32"), itemSize("F16"), itemSize("BF16"), itemSize("I64")], [4, 2, 2, 8]);
  assert.equal(elementCount([]), 1);
  assert.equal(elementCount([2, 0, 3]), 0);
  const floats = new Float32Array([1.5, -0, Infinity, -2.75]);
  for (const dtype of ["F32", "F16", "BF16"] as const) {
    const bytes = encodeTensorData(floats, dtype);
    assert.equal(bytes.length, 4 * itemSize(dtype));
    assert.deepEqual(decodeTensorBytes(bytes, dtype), floats, dtype);
  }
  const ints = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]);
  assert.deepEqual(decodeTensorBytes(encodeTensorData(ints, "I64"), "I64"), ints);
  assert.deepEqual([...encodeTensorData(new Float32Array([1]), "BF16")], [0x80, 0x3f]);
  assert.deepEqual([...encodeTensorData(new Float32Array([1]), "F16")], [0x00, 0x3c]);
  assert.throws(() => encodeTensorData(ints, "F32"), /cannot encode BigInt64Array data as F32/);
  assert.throws(() => encodeTensorData(floats, "I64"), /cannot encode Float32Array data as I64/);
});

Deno.test("decoding reads unaligned bytes", () => {
  const bytes = new Uint8Array(9);
  bytes.set(encodeTensorData(new Float32Array([3, -4]), "F32"), 1);
  assert.deepEqual(decodeTensorBytes(bytes.subarray(1), "F32"), new Float32Array([3, -4]));
});
