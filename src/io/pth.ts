/**
 * Loading PyTorch checkpoints written by `torch.save(model.state_dict(), path)` (PyTorch >= 1.6), including
 * torchvision's official weights: a zip archive holding `<name>/data.pkl`, a pickle whose tensors point
 * through persistent ids to raw storages `<name>/data/<key>`. Nothing in the pickle is executed: only the
 * few globals a state dict uses are understood, everything else stays inert data.
 *
 * @module
 */

import { unzipSync } from "fflate";
import { NameRegistry, Parser } from "pickleparser";
import {
  decodeTensorBytes,
  type DType,
  elementCount,
  itemSize,
  type StateDict,
  type TensorData,
} from "./state_dict.ts";

/** Storage classes of the pickle, with the dtype each holds (`null`: a dtype this module does not support). */
const STORAGES: Record<string, DType | null> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  DoubleStorage: null,
  IntStorage: null,
  ShortStorage: null,
  CharStorage: null,
  ByteStorage: null,
  BoolStorage: null,
};

/** A storage the pickle refers to: its class, and its bytes read from the archive. */
interface Storage {
  kind: string;
  dtype: DType | null;
  key: string;
  bytes: Uint8Array;
  decoded?: Float32Array | BigInt64Array;
}

/** The arguments of `torch._utils._rebuild_tensor_v2`, resolved into a tensor once its name is known. */
class PickledTensor {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

const STORAGE_CLASS = Symbol("storage class");
type StorageClass = (() => never) & { [STORAGE_CLASS]: string };

function storageClass(name: string): StorageClass {
  const cls = () => {
    throw new Error(`torch.${name} is not callable here`);
  };
  return Object.assign(cls, { [STORAGE_CLASS]: name });
}

function globals(): NameRegistry {
  const registry = new NameRegistry()
    .register("collections", "OrderedDict", () => new Map())
    .register(
      "torch._utils",
      "_rebuild_tensor_v2",
      (storage: Storage, offset: number, size: number[], stride: number[]) =>
        new PickledTensor(storage, offset, size, stride),
    )
    .register("torch._utils", "_rebuild_parameter", (tensor: PickledTensor) => tensor);
  for (const name of Object.keys(STORAGES)) registry.register("torch", name, storageClass(name));
  return registry;
}

function contiguousStrides(size: readonly number[]): number[] {
  const strides = new Array<number>(size.length);
  for (let d = size.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= size[d];
  }
  return strides;
}

function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  const expected = contiguousStrides(size);
  return size.every((n, d) => n === 1 || stride[d] === expected[d]);
}

function decodedStorage(storage: Storage, dtype: DType): Float32Array | BigInt64Array {
  storage.decoded ??= decodeTensorBytes(storage.bytes, dtype);
  return storage.decoded;
}

/** Copies the viewed elements into C order: `torch.save` keeps views (transposes, slices) as they are. */
function gather<T extends Float32Array | BigInt64Array>(
  source: T,
  out: T,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
): T {
  const index = new Array<number>(size.length).fill(0);
  let position = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[position];
    for (let d = size.length - 1; d >= 0; d--) {
      if (++index[d] < size[d]) {
        position += stride[d];
        break;
      }
      position -= (size[d] - 1) * stride[d];
      index[d] = 0;
    }
  }
  return out;
}

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isSafeInteger(n));
}

function materialize(name: string, tensor: PickledTensor, source: string): TensorData {
  const { storage, offset, size, stride } = tensor;
  const where = `${source}: tensor "${name}"`;
  if (
    !Number.isSafeInteger(offset) || !isIndexList(size) || !isIndexList(stride) ||
    size.length !== stride.length
  ) {
    throw new Error(`${where}: malformed tensor record in the pickle`);
  }
  if (storage.dtype === null) {
    throw new Error(
      `${where} is stored as torch.${storage.kind}, which is not supported (only float32, ` +
        `float16, bfloat16 and int64 tensors are)`,
    );
  }
  const dtype = storage.dtype;
  const count = elementCount(size);
  // An expanded view (stride 0) may hold more elements than its storage, but not more than memory does.
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new Error(`${where}: size [${size.join(", ")}] has more than ${MAX_TENSOR_ELEMENTS} elements`);
  }
  const storageLength = storage.bytes.length / itemSize(dtype);
  const last = offset + size.reduce((sum, n, d) => sum + (n - 1) * stride[d], 0);
  if (count > 0 && (offset < 0 || stride.some((s) => s < 0) || last >= storageLength)) {
    throw new Error(
      `${where}: the view (offset ${offset}, size [${size.join(", ")}], stride [${stride.join(", ")}]) ` +
        `reaches past its storage "${storage.key}" of ${storageLength} elements`,
    );
  }
  const shape = [...size];
  if (count === 0) {
    return { shape, dtype, data: dtype === "I64" ? new BigInt64Array(0) : new Float32Array(0) };
  }
  if (isContiguous(size, stride)) {
    const width = itemSize(dtype);
    const bytes = storage.bytes.subarray(offset * width, (offset + count) * width);
    return { shape, dtype, data: decodeTensorBytes(bytes, dtype) };
  }
  const all = decodedStorage(storage, dtype);
  const data = all instanceof BigInt64Array
    ? gather(all, new BigInt64Array(count), offset, size, stride)
    : gather(all, new Float32Array(count), offset, size, stride);
  return { shape, dtype, data };
}

/** Checkpoints often wrap the state dict; these are the keys training scripts commonly use. */
const WRAPPER_KEYS = ["state_dict", "model_state_dict", "model"];

function findStateDict(root: unknown, source: string): Map<string, unknown> {
  if (!(root instanceof Map)) {
    const kind = (root as { __module__?: string; __name__?: string } | null)?.__name__;
    throw new Error(
      `${source}: the pickle holds ${kind ? `a ${kind} object` : "something"} rather than a state dict; ` +
        "save the model with torch.save(model.state_dict(), path)",
    );
  }
  if ([...root.values()].every((v) => v instanceof PickledTensor)) return root;
  for (const key of WRAPPER_KEYS) {
    const inner = root.get(key);
    if (inner instanceof Map && inner.size && [...inner.values()].every((v) => v instanceof PickledTensor)) {
      return inner;
    }
  }
  const odd = [...root].find(([, v]) => !(v instanceof PickledTensor))![0];
  throw new Error(
    `${source}: entry "${odd}" of the pickled dict is not a tensor, and none of the keys ` +
      `${WRAPPER_KEYS.map((k) => `"${k}"`).join(", ")} holds a state dict (top-level keys: ` +
      `${[...root.keys()].slice(0, 10).join(", ")})`,
  );
}

/** Bytes of a zip central directory entry with an empty name: no archive holds more entries than this allows. */
const ZIP_DIRECTORY_ENTRY_BYTES = 46;
/** Most elements a tensor may have: 2^30 (4 GiB of float32), beyond any ResNet's largest. */
const MAX_TENSOR_ELEMENTS = 2 ** 30;
/** Largest archive entry read: 4 GiB, beyond any ResNet's largest tensor. */
const MAX_ENTRY_BYTES = 2 ** 32;

function unzip(bytes: Uint8Array, source: string): Record<string, Uint8Array> {
  const zipMagic = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (!zipMagic) {
    if (bytes[0] === 0x80) {
      throw new Error(
        `${source}: this is PyTorch's legacy (pre-1.6) checkpoint format, which is not supported; re-save it ` +
          "with a recent PyTorch: torch.save(torch.load(old), new)",
      );
    }
    throw new Error(`${source}: not a PyTorch checkpoint (expected a zip archive written by torch.save)`);
  }
  // A corrupt central directory can claim billions of entries or an entry of any size; fflate would loop
  // over them or allocate that much, so its filter, called before each entry is read, stops it first.
  const maxEntries = Math.floor(bytes.length / ZIP_DIRECTORY_ENTRY_BYTES);
  let entries = 0;
  const filter = (file: { name: string; originalSize: number }) => {
    if (++entries > maxEntries) {
      throw new Error(`its directory lists more entries than ${bytes.length} bytes can hold`);
    }
    if (!(file.originalSize <= MAX_ENTRY_BYTES)) {
      throw new Error(`entry "${file.name}" claims ${file.originalSize} bytes`);
    }
    return true;
  };
  try {
    return unzipSync(bytes, { filter });
  } catch (error) {
    throw new Error(`${source}: corrupt zip archive (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Decodes a PyTorch checkpoint's bytes into a state dict: float32, float16, bfloat16 (widened to float32,
 * the stored dtype remembered) and int64 tensors; views (storage offsets, non-contiguous strides) are made
 * contiguous. A checkpoint that wraps its state dict under `state_dict`, `model_state_dict` or `model` is
 * unwrapped.
 *
 * @example
 * ```ts
 * import { decodePth } from "@denogpu/resnet/io";
 * const dict = decodePth(await Deno.readFile("resnet20.pth"), "resnet20.pth");
 * console.log(dict.get("conv1.weight")?.shape); // [16, 3, 3, 3]
 * ```
 */
export function decodePth(bytes: Uint8Array, source = "checkpoint"): StateDict {
  const files = unzip(bytes, source);
  const pickles = Object.keys(files).filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new Error(`${source}: expected one <name>/data.pkl in the archive, found ${pickles.length}`);
  }
  const prefix = pickles[0].slice(0, -"data.pkl".length);
  const byteOrder = files[`${prefix}byteorder`];
  if (byteOrder && new TextDecoder().decode(byteOrder) !== "little") {
    throw new Error(`${source}: big-endian checkpoints are not supported`);
  }
  const storages = new Map<string, Storage>();
  const resolveStorage = (pid: unknown): Storage => {
    const [tag, cls, key, , numel] = pid as [string, StorageClass, string, string, number];
    if (tag !== "storage" || typeof cls !== "function" || !(STORAGE_CLASS in cls)) {
      throw new Error(`unknown persistent id ${JSON.stringify(tag)}`);
    }
    const cached = storages.get(key);
    if (cached) return cached;
    const kind = cls[STORAGE_CLASS];
    const dtype = STORAGES[kind];
    const bytes = files[`${prefix}data/${key}`];
    if (!bytes) throw new Error(`storage "${key}" is missing from the archive`);
    const expected = numel * (dtype ? itemSize(dtype) : 1);
    if (dtype && bytes.length !== expected) {
      throw new Error(
        `storage "${key}" has ${bytes.length} bytes, expected ${expected} (truncated archive?)`,
      );
    }
    const storage = { kind, dtype, key, bytes };
    storages.set(key, storage);
    return storage;
  };
  let root: unknown;
  try {
    const parser = new Parser({
      nameResolver: globals(),
      persistentResolver: { resolve: resolveStorage },
      unpicklingTypeOfDictionary: "Map",
    });
    root = parser.parse(files[pickles[0]]);
  } catch (error) {
    throw new Error(`${source}: cannot read ${pickles[0]}: ${(error as Error).message}`, { cause: error });
  }
  const dict: StateDict = new Map();
  for (const [name, tensor] of findStateDict(root, source)) {
    dict.set(String(name), materialize(String(name), tensor as PickledTensor, source));
  }
  return dict;
}

/**
 * Reads and decodes the PyTorch checkpoint at `path`, a file path or `file:` URL (see {@linkcode decodePth}).
 *
 * @example
 * ```ts
 * import { loadPth } from "@denogpu/resnet";
 * const dict = await loadPth("resnet18-f37072fd.pth");
 * console.log(dict.size); // 122
 * ```
 */
export async function loadPth(path: string | URL): Promise<StateDict> {
  const source = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(`cannot read ${source}: ${(error as Error).message}`, { cause: error });
  }
  return decodePth(bytes, source);
}
