/**
 * Atomic file writes: a reader (or a crash) sees either the old file or the complete new one, never a torn
 * checkpoint. The bytes go to a temporary file in the same folder (so the final rename stays on one file
 * system), are flushed to disk, and the temporary file is renamed over the target.
 *
 * @module
 */

function temporaryPath(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  // `.part` is git-ignored, so a temporary file left by a killed process never gets committed.
  return `${path}.${Deno.pid}.${random}.part`;
}

function asBytes(content: Uint8Array | string): Uint8Array {
  return typeof content === "string" ? new TextEncoder().encode(content) : content;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // The temporary file may never have been created; the original error is what matters.
  }
}

/**
 * Writes `content` to `path` atomically, replacing any existing file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "@denogpu/resnet/io";
 * const path = Deno.makeTempFileSync();
 * writeFileAtomic(path, JSON.stringify({ epoch: 3 }));
 * ```
 */
export function writeFileAtomic(path: string, content: Uint8Array | string): void {
  const temporary = temporaryPath(path);
  try {
    using file = Deno.openSync(temporary, { write: true, createNew: true });
    const bytes = asBytes(content);
    for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } catch (error) {
    removeQuietly(temporary);
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    Deno.renameSync(temporary, path);
  } catch (error) {
    removeQuietly(temporary);
    throw new Error(`cannot replace ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The asynchronous form of {@linkcode writeFileAtomic}, for large checkpoints written while training goes on.
 *
 * @example
 * ```ts
 * import { writeFileAtomicAsync } from "@denogpu/resnet/io";
 * await writeFileAtomicAsync(await Deno.makeTempFile(), new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomicAsync(path: string, content: Uint8Array | string): Promise<void> {
  const temporary = temporaryPath(path);
  try {
    await using file = await Deno.open(temporary, { write: true, createNew: true });
    const bytes = asBytes(content);
    for (let written = 0; written < bytes.length;) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    removeQuietly(temporary);
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    removeQuietly(temporary);
    throw new Error(`cannot replace ${path}: ${(error as Error).message}`, { cause: error });
  }
}
