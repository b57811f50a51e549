/**
 * Safetensors files: {@link ./safetensors_codec.ts}'s format, read from and written to paths (atomically).
 *
 * @module
 */

import { writeFileAtomicAsync } from "./atomic.ts";
import type { StateDict } from "./state_dict.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type Safetensors,
  type SafetensorsWriteOptions,
} from "./safetensors_codec.ts";

export { decodeSafetensors, encodeSafetensors, type Safetensors, type SafetensorsWriteOptions };

/**
 * Reads and decodes the safetensors file at `path`, a file path or `file:` URL (see {@linkcode decodeSafetensors}).
 *
 * @example
 * ```ts
 * import { loadSafetensors } from "@denogpu/resnet";
 * const { tensors } = await loadSafetensors("resnet20.safetensors");
 * console.log(tensors.get("fc.weight")?.shape); // [10, 64]
 * ```
 */
export async function loadSafetensors(path: string | URL): Promise<Safetensors> {
  const source = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(`cannot read ${source}: ${(error as Error).message}`, { cause: error });
  }
  return decodeSafetensors(bytes, source);
}

/**
 * Writes tensors to `path` as a safetensors file, atomically (see {@linkcode encodeSafetensors}).
 *
 * @example
 * ```ts
 * import { saveSafetensors } from "@denogpu/resnet";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors(path, new Map([["step", { shape: [], dtype: "I64", data: new BigInt64Array([7n]) }]]));
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: StateDict,
  options: SafetensorsWriteOptions = {},
): Promise<void> {
  await writeFileAtomicAsync(path, encodeSafetensors(tensors, options));
}
