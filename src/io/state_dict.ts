/**
 * The in-memory state dict every loader returns and every saver takes, and the check that a state dict fits a
 * model (PyTorch's `load_state_dict` rules).
 *
 * @module
 */

/** Element types a tensor may have in a checkpoint file. Floats are held as `Float32Array` whatever they were stored as. */
export type DType = "F32" | "F16" | "BF16" | "I64";

/** One tensor of a state dict. */
export interface TensorData {
  /** PyTorch's shape; `[]` for a scalar such as `num_batches_tracked`. */
  shape: number[];
  /** The values in row-major (C) order: floats widened to float32, integers as int64. */
  data: Float32Array | BigInt64Array;
  /** The element type as stored in the file it came from (or to use when one is written). */
  dtype: DType;
}

/** Tensors by PyTorch name, e.g. `"layer1.0.conv1.weight"`, in file order. */
export type StateDict = Map<string, TensorData>;

/** What {@linkcode matchStateDict} found. */
export interface StateDictMatch {
  /** Names present in both with equal shapes, in the model's order. */
  matched: string[];
  /** Names the model has and the state dict lacks. */
  missing: string[];
  /** Names the state dict has and the model lacks. */
  unexpected: string[];
  /** Names present in both with different shapes. */
  mismatched: string[];
}

/** Options of {@linkcode matchStateDict}. */
export interface MatchOptions {
  /** Throw on any missing, unexpected or mismatched key (PyTorch's `strict=True`). */
  strict: boolean;
  /** The file (or other origin) of the state dict, named in the error. */
  source: string;
}

const BATCHES_TRACKED = "num_batches_tracked";

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/**
 * Compares a model's parameter and buffer names and shapes with a state dict.
 *
 * In strict mode it throws one error that lists every missing, unexpected and shape-mismatched key (with both
 * shapes), so a wrong checkpoint is diagnosed in one run. Missing `*.num_batches_tracked` buffers are tolerated
 * even in strict mode, as PyTorch does for checkpoints saved before BatchNorm had them (torchvision's official
 * weights among them); they are still listed in `missing`.
 *
 * @example
 * ```ts
 * import { matchStateDict } from "@denogpu/resnet/io";
 * const expected = new Map([["fc.weight", [10, 64]], ["fc.bias", [10]]]);
 * const given = new Map([["fc.weight", { shape: [10, 64], dtype: "F32" as const, data: new Float32Array(640) }]]);
 * const { matched, missing } = matchStateDict(expected, given, { strict: false, source: "head.safetensors" });
 * console.log(matched, missing); // ["fc.weight"] ["fc.bias"]
 * ```
 */
export function matchStateDict(
  expected: Map<string, readonly number[]>,
  given: StateDict,
  options: MatchOptions,
): StateDictMatch {
  const matched: string[] = [], missing: string[] = [], mismatched: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = given.get(name);
    if (!tensor) missing.push(name);
    else if (sameShape(shape, tensor.shape)) matched.push(name);
    else mismatched.push(name);
  }
  const unexpected = [...given.keys()].filter((name) => !expected.has(name));
  const fatalMissing = missing.filter((name) =>
    !name.endsWith(`.${BATCHES_TRACKED}`) && name !== BATCHES_TRACKED
  );
  if (options.strict && (fatalMissing.length || unexpected.length || mismatched.length)) {
    throw new Error(describeMismatch(expected, given, fatalMissing, unexpected, mismatched, options.source));
  }
  return { matched, missing, unexpected, mismatched };
}

function describeMismatch(
  expected: Map<string, readonly number[]>,
  given: StateDict,
  missing: string[],
  unexpected: string[],
  mismatched: string[],
  source: string,
): string {
  const lines = [`${source} does not fit the model:`];
  if (missing.length) {
    lines.push(`  ${missing.length} missing key(s):`);
    for (const name of missing) lines.push(`    ${name} ${formatShape(expected.get(name)!)}`);
  }
  if (unexpected.length) {
    lines.push(`  ${unexpected.length} unexpected key(s):`);
    for (const name of unexpected) lines.push(`    ${name} ${formatShape(given.get(name)!.shape)}`);
  }
  if (mismatched.length) {
    lines.push(`  ${mismatched.length} shape mismatch(es):`);
    for (const name of mismatched) {
      lines.push(
        `    ${name}: the model has ${formatShape(expected.get(name)!)}, ` +
          `the file has ${formatShape(given.get(name)!.shape)}`,
      );
    }
  }
  const hint = prefixHint(expected, unexpected);
  if (hint) lines.push(`  ${hint}`);
  lines.push("  (load with strict: false to take only the matching keys)");
  return lines.join("\n");
}

/** Names a common cause: a checkpoint saved from a wrapper (`DataParallel`, a training script's `model.`). */
function prefixHint(expected: Map<string, readonly number[]>, unexpected: string[]): string | undefined {
  for (const prefix of ["module.", "model."]) {
    const stripped = unexpected.filter((name) =>
      name.startsWith(prefix) && expected.has(name.slice(prefix.length))
    );
    if (stripped.length && stripped.length >= unexpected.length / 2) {
      return `hint: the file's keys start with "${prefix}"; strip that prefix before loading`;
    }
  }
  return undefined;
}

/**
 * Bytes per element of `dtype`.
 *
 * @example
 * ```ts
 * import { itemSize } from "@denogpu/resnet/io";
 * console.log(itemSize("F32"), itemSize("BF16"), itemSize("I64")); // 4 2 8
 * ```
 */
export function itemSize(dtype: DType): number {
  return dtype === "I64" ? 8 : dtype === "F32" ? 4 : 2;
}

/**
 * Number of elements of a tensor of `shape` (1 for a scalar).
 *
 * @example
 * ```ts
 * import { elementCount } from "@denogpu/resnet/io";
 * console.log(elementCount([64, 3, 7, 7]), elementCount([])); // 9408 1
 * ```
 */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Decodes little-endian tensor bytes: F32, F16 and BF16 to a `Float32Array` (exactly: every F16/BF16 value
 * is a float32), I64 to a `BigInt64Array`.
 *
 * @example
 * ```ts
 * import { decodeTensorBytes } from "@denogpu/resnet/io";
 * console.log(decodeTensorBytes(new Uint8Array([0, 0, 128, 63]), "F32")); // Float32Array [1]
 * console.log(decodeTensorBytes(new Uint8Array([128, 63]), "BF16")); // Float32Array [1]
 * ```
 *
 * @throws {RangeError} When the length of `bytes` is not a multiple of `dtype`'s item size.
 */
export function decodeTensorBytes(bytes: Uint8Array, dtype: DType): Float32Array | BigInt64Array {
  // A copy, because the source bytes are rarely aligned for a typed-array view. Every supported host is
  // little-endian, as the file formats are, so typed arrays read the values directly.
  const buffer = bytes.slice().buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer);
    case "F16":
      return Float32Array.from(new Float16Array(buffer));
    case "BF16": {
      const bits = Uint32Array.from(new Uint16Array(buffer), (b) => b << 16);
      return new Float32Array(bits.buffer);
    }
    case "I64":
      return new BigInt64Array(buffer);
  }
}

/**
 * Rounds float32 bit patterns to bfloat16 (round to nearest, ties to even), as PyTorch does. A NaN keeps its
 * sign and top payload bits (made quiet), so decoding and re-encoding a BF16 file reproduces it bit for bit.
 */
function toBFloat16(data: Float32Array): Uint16Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i];
    out[i] = Number.isNaN(data[i]) ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

/**
 * Encodes tensor values as little-endian bytes of `dtype`: float32 data as F32, F16 or BF16 (rounded to
 * nearest, ties to even), int64 data as I64. For F32 and I64 the result is a view of `data`, not a copy.
 *
 * @example
 * ```ts
 * import { encodeTensorData } from "@denogpu/resnet/io";
 * console.log(encodeTensorData(new Float32Array([1]), "BF16")); // Uint8Array [128, 63]
 * console.log(encodeTensorData(new BigInt64Array([1n]), "I64").length); // 8
 * ```
 *
 * @throws {TypeError} When `data` is a `BigInt64Array` and `dtype` is not I64, or the other way round.
 */
export function encodeTensorData(data: Float32Array | BigInt64Array, dtype: DType): Uint8Array {
  if ((dtype === "I64") !== (data instanceof BigInt64Array)) {
    throw new TypeError(`cannot encode ${data.constructor.name} data as ${dtype}`);
  }
  let encoded: ArrayBufferView;
  if (data instanceof BigInt64Array || dtype === "F32") encoded = data;
  else if (dtype === "F16") encoded = Float16Array.from(data);
  else encoded = toBFloat16(data);
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}
