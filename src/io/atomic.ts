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

/** Writes `content` to the new file `temporary` and syncs it; errors name `path`, the file it stands for. */
async function writeSynced(temporary: string, path: string, content: Uint8Array | string): Promise<void> {
  try {
    await using file = await Deno.open(temporary, { write: true, createNew: true });
    const bytes = asBytes(content);
    for (let written = 0; written < bytes.length;) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
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

/** A file being written piece by piece under a temporary name: {@linkcode atomicWriter}'s result. */
export interface AtomicWriter {
  /** Appends `bytes`. */
  write(bytes: Uint8Array): void;
  /** Syncs the file and renames it over the target. */
  commit(): void;
  /** Removes the temporary file; the target stays as it was. */
  abort(): void;
}

/**
 * Opens a temporary file beside `path` for a file too large to hold in memory at once; the target
 * appears, complete, only at `commit()`.
 *
 * @example
 * ```ts
 * import { atomicWriter } from "@denogpu/resnet/io";
 * const path = Deno.makeTempFileSync();
 * const writer = atomicWriter(path);
 * writer.write(new Uint8Array([1, 2]));
 * writer.write(new Uint8Array([3]));
 * writer.commit(); // path now holds the three bytes
 * ```
 *
 * @throws {Error} Naming the path, when the file cannot be written or replaced.
 */
export function atomicWriter(path: string): AtomicWriter {
  const temporary = temporaryPath(path);
  let file: Deno.FsFile | undefined;
  const failed = (what: string, error: unknown) => {
    file?.close();
    file = undefined;
    removeQuietly(temporary);
    return new Error(`cannot ${what} ${path}: ${(error as Error).message}`, { cause: error });
  };
  try {
    file = Deno.openSync(temporary, { write: true, createNew: true });
  } catch (error) {
    throw failed("write", error);
  }
  return {
    write(bytes) {
      if (!file) throw new Error(`cannot write ${path}: the writer is closed`);
      try {
        for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
      } catch (error) {
        throw failed("write", error);
      }
    },
    commit() {
      if (!file) throw new Error(`cannot write ${path}: the writer is closed`);
      try {
        file.syncSync();
        file.close();
        file = undefined;
        Deno.renameSync(temporary, path);
      } catch (error) {
        throw failed("replace", error);
      }
    },
    abort() {
      file?.close();
      file = undefined;
      removeQuietly(temporary);
    },
  };
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
    await writeSynced(temporary, path, content);
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  }
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    removeQuietly(temporary);
    throw new Error(`cannot replace ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Writes several files as one change: every file is written and synced under a temporary name, then a
 * journal listing the renames is written (atomically) to `journal`, the files are renamed over their targets
 * and the journal is removed. A crash before the journal leaves every target as it was; a crash after it
 * leaves the renames for {@linkcode finishAtomicWrites} to complete, so the set is never seen mixed once
 * that has run. A file that cannot be written leaves every target as it was.
 *
 * @example
 * ```ts
 * import { finishAtomicWrites, writeFilesAtomicAsync } from "@denogpu/resnet/io";
 * const dir = await Deno.makeTempDir();
 * const files = [[`${dir}/weights.bin`, new Uint8Array(8)], [`${dir}/state.json`, "{}"]] as const;
 * await writeFilesAtomicAsync(files, `${dir}/commit.json`);
 * await finishAtomicWrites(`${dir}/commit.json`); // nothing to finish: the journal is gone
 * ```
 *
 * @throws {Error} Naming the path, when a file cannot be written or replaced.
 */
export async function writeFilesAtomicAsync(
  files: ReadonlyArray<readonly [path: string, content: Uint8Array | string]>,
  journal: string,
): Promise<void> {
  const staged: Array<[temporary: string, path: string]> = [];
  try {
    for (const [path, content] of files) {
      const temporary = temporaryPath(path);
      staged.push([temporary, path]);
      await writeSynced(temporary, path, content);
    }
    await writeFileAtomicAsync(journal, JSON.stringify(staged));
  } catch (error) {
    for (const [temporary] of staged) removeQuietly(temporary);
    throw error;
  }
  await finishAtomicWrites(journal);
}

/**
 * Completes the renames of a {@linkcode writeFilesAtomicAsync} that a crash interrupted, if `journal`
 * exists, then removes it; returns the paths it renamed. Call it before reading files written that way.
 *
 * @example
 * ```ts
 * import { finishAtomicWrites } from "@denogpu/resnet/io";
 * console.log(await finishAtomicWrites(`${await Deno.makeTempDir()}/commit.json`)); // []
 * ```
 *
 * @throws {Error} Naming the journal, when it is unreadable or a rename fails.
 */
export async function finishAtomicWrites(journal: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(journal);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new Error(`cannot read ${journal}: ${(error as Error).message}`, { cause: error });
  }
  let renames: Array<[string, string]>;
  try {
    renames = JSON.parse(text);
    if (
      !Array.isArray(renames) ||
      !renames.every((r) => r.length === 2 && r.every((p) => typeof p === "string"))
    ) {
      throw new Error("not a list of [temporary, target] pairs");
    }
  } catch (error) {
    throw new Error(`${journal}: not a journal of renames (${(error as Error).message})`, { cause: error });
  }
  const renamed: string[] = [];
  for (const [temporary, path] of renames) {
    try {
      await Deno.rename(temporary, path);
      renamed.push(path);
    } catch (error) {
      // Renamed before the crash.
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(`cannot replace ${path}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  await Deno.remove(journal);
  return renamed;
}

/**
 * Removes the temporary files that writes into `dir` by other processes left behind (a process killed
 * mid-write cannot remove its own); returns their names. Call it where no other process writes into
 * `dir`, e.g. when a training run starts in its folder.
 *
 * @example
 * ```ts
 * import { removeStaleTemporaries } from "@denogpu/resnet/io";
 * console.log(await removeStaleTemporaries(await Deno.makeTempDir())); // []
 * ```
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = entry.isFile && /\.(\d+)\.[0-9a-z]+\.part$/.exec(entry.name);
      if (!match || Number(match[1]) === Deno.pid) continue;
      await Deno.remove(`${dir}/${entry.name}`).then(() => removed.push(entry.name), () => {});
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}
