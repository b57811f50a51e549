/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header mapping each tensor name to its dtype, shape and byte range,
 * an optional `__metadata__` string map, then the tensors' bytes. F32, F16, BF16 and I64 tensors are
 * supported; floats are widened to float32 on load and the stored dtype is remembered. Bytes only: no file
 * access, so that it runs in a browser ({@link ./safetensors.ts} reads and writes files).
 *
 * @module
 */

import {
  decodeTensorBytes,
  type DType,
  elementCount,
  encodeTensorData,
  itemSize,
  type StateDict,
  type TensorData,
} from "./state_dict.ts";

/** A decoded safetensors file. */
export interface Safetensors {
  /** The tensors, in the order of their bytes in the file. */
  tensors: StateDict;
  /** The header's `__metadata__` (empty when absent). */
  metadata: Record<string, string>;
}

/** Options of {@linkcode encodeSafetensors} and {@linkcode saveSafetensors}. */
export interface SafetensorsWriteOptions {
  /** Stored as the header's `__metadata__`. */
  metadata?: Record<string, string>;
  /** Store every float tensor with this dtype instead of each tensor's own `dtype`. */
  floatDType?: "F32" | "F16" | "BF16";
}

const SUPPORTED: readonly DType[] = ["F32", "F16", "BF16", "I64"];
const OTHER_DTYPES = ["F64", "F8_E4M3", "F8_E5M2", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"];
const METADATA = "__metadata__";
/** The reference implementation refuses larger headers; a bigger length means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(name: string, value: unknown, dataLength: number, fail: (why: string) => never): Entry {
  const where = `tensor "${name}"`;
  if (!isRecord(value)) fail(`${where}: its header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string") fail(`${where}: "dtype" is missing or not a string`);
  if (!SUPPORTED.includes(dtype as DType)) {
    fail(
      OTHER_DTYPES.includes(dtype)
        ? `${where}: dtype ${dtype} is not supported (supported: ${SUPPORTED.join(", ")})`
        : `${where}: unknown dtype "${dtype}"`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(
      `${where}: "data_offsets" must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as number[];
  if (end > dataLength) {
    fail(
      `${where}: its bytes [${begin}, ${end}) run past the end of the data section (${dataLength} bytes); ` +
        `the file is truncated or its header is corrupt`,
    );
  }
  const expected = elementCount(shape) * itemSize(dtype as DType);
  if (end - begin !== expected) {
    fail(
      `${where}: ${end - begin} bytes in the file, but shape [${
        shape.join(", ")
      }] of ${dtype} needs ${expected}`,
    );
  }
  return { name, dtype: dtype as DType, shape: shape as number[], begin, end };
}

function parseMetadata(value: unknown, fail: (why: string) => never): Record<string, string> {
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === "string")) {
    fail(`"${METADATA}" must be an object of strings`);
  }
  return value as Record<string, string>;
}

/** The spec requires the tensors to tile the data section exactly: no overlaps, no holes. */
function checkLayout(entries: Entry[], dataLength: number, fail: (why: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const entry of sorted) {
    if (entry.begin < covered) {
      fail(
        `tensor "${entry.name}" (bytes [${entry.begin}, ${entry.end})) overlaps tensor "${previous!.name}" ` +
          `(bytes [${previous!.begin}, ${previous!.end}))`,
      );
    }
    if (entry.begin > covered) {
      fail(
        `bytes [${covered}, ${entry.begin}) of the data section belong to no tensor (before "${entry.name}")`,
      );
    }
    if (entry.end > entry.begin) {
      covered = entry.end;
      previous = entry;
    }
  }
  if (covered !== dataLength) {
    fail(
      `the data section has ${dataLength - covered} byte(s) after the last tensor that belong to no tensor`,
    );
  }
}

/**
 * Decodes a safetensors file's bytes, validating the header fully: every malformed file gives an error that
 * names `source` and, where one is at fault, the tensor.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@denogpu/resnet/io";
 * const bytes = encodeSafetensors(new Map([["w", { shape: [2], dtype: "F32", data: new Float32Array([1, 2]) }]]));
 * console.log(decodeSafetensors(bytes, "w.safetensors").tensors.get("w")?.data); // Float32Array [1, 2]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): Safetensors {
  const fail: (why: string) => never = (why) => {
    throw new Error(`${source}: invalid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(`the header length ${headerLength} exceeds the ${bytes.length - 8} bytes that follow it`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`the header length ${headerLength} exceeds 100 MB`);
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isRecord(header)) fail("the header is not a JSON object");
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA) metadata = parseMetadata(value, fail);
    else entries.push(parseEntry(name, value, dataLength, fail));
  }
  checkLayout(entries, dataLength, fail);
  const tensors: StateDict = new Map();
  for (const entry of [...entries].sort((a, b) => a.begin - b.begin)) {
    const data = decodeTensorBytes(
      bytes.subarray(dataStart + entry.begin, dataStart + entry.end),
      entry.dtype,
    );
    tensors.set(entry.name, { shape: entry.shape, dtype: entry.dtype, data });
  }
  return { tensors, metadata };
}

function storedDType(
  name: string,
  tensor: TensorData,
  floatDType: SafetensorsWriteOptions["floatDType"],
): DType {
  if (tensor.data instanceof BigInt64Array) return "I64";
  const dtype = floatDType ?? tensor.dtype;
  if (dtype === "I64") throw new TypeError(`tensor "${name}": float32 data cannot be stored as I64`);
  return dtype;
}

/**
 * Encodes tensors as a safetensors file. As the reference implementation does, tensors are laid out by
 * decreasing element size, then by name (so every tensor is aligned to its element size), and the header
 * is padded with spaces to a multiple of 8 bytes.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "@denogpu/resnet/io";
 * const bytes = encodeSafetensors(
 *   new Map([["fc.bias", { shape: [3], dtype: "F32", data: new Float32Array([0.5, -1, 2]) }]]),
 *   { metadata: { format: "pt" }, floatDType: "F16" },
 * );
 * console.log(bytes.length);
 * ```
 */
export function encodeSafetensors(tensors: StateDict, options: SafetensorsWriteOptions = {}): Uint8Array {
  const items = [...tensors].map(([name, tensor]) => {
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new RangeError(
        `tensor "${name}": ${tensor.data.length} values do not fill shape [${tensor.shape.join(", ")}]`,
      );
    }
    const dtype = storedDType(name, tensor, options.floatDType);
    return { name, dtype, shape: tensor.shape, bytes: encodeTensorData(tensor.data, dtype) };
  });
  items.sort((a, b) =>
    itemSize(b.dtype) - itemSize(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (options.metadata) header[METADATA] = options.metadata;
  let offset = 0;
  for (const item of items) {
    header[item.name] = {
      dtype: item.dtype,
      shape: item.shape,
      data_offsets: [offset, offset + item.bytes.length],
    };
    offset += item.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(json, 8);
  let position = 8 + headerLength;
  for (const item of items) {
    out.set(item.bytes, position);
    position += item.bytes.length;
  }
  return out;
}
