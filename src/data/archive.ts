/**
 * Streams the regular files out of a `.tar.gz` (or plain `.tar`) archive without extracting it to disk:
 * gunzip with the built-in `DecompressionStream`, tar with `tar-stream`.
 *
 * @module
 */

import * as tar from "tar-stream";

/** The files an archive held, as far as the caller wanted them. */
export interface ArchiveContents {
  /** Bytes of each wanted regular file, by its name inside the archive (a leading `./` removed). */
  files: Map<string, Uint8Array>;
  /** Names of every regular file in the archive, in archive order, for messages. */
  names: string[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const TAR_MAGIC_OFFSET = 257;

/** What an archive file is, from its first bytes. */
export type ArchiveKind = "gzip" | "tar" | "unknown";

/** Tells a gzip stream (magic `1f 8b`) and a tar (`ustar` at byte 257) from anything else. */
export function archiveKind(head: Uint8Array): ArchiveKind {
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return "gzip";
  const magic = new TextDecoder().decode(head.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5));
  return magic === "ustar" ? "tar" : "unknown";
}

/** The first `length` bytes of a file (fewer if it is shorter). */
export async function readHead(path: string, length = 512): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const head = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(head.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return head.subarray(0, filled);
}

/**
 * Reads the regular files of the archive at `path` whose names `want` accepts. Throws an error that names
 * the archive and says whether the gzip or the tar layer is truncated or corrupt.
 *
 * @example
 * ```ts
 * import { readArchive } from "@denogpu/resnet/data";
 * const { files } = await readArchive("cifar-10-binary.tar.gz", (name) => name.endsWith(".bin"));
 * ```
 */
export async function readArchive(path: string, want: (name: string) => boolean): Promise<ArchiveContents> {
  const kind = archiveKind(await readHead(path));
  if (kind === "unknown") {
    throw new Error(`${path}: is neither a gzip-compressed tar archive nor a tar archive`);
  }
  const file = await Deno.open(path);
  const source = kind === "gzip" ? file.readable.pipeThrough(new DecompressionStream("gzip")) : file.readable;
  const extract = tar.extract();
  const feeding = feed(source, extract);
  const contents: ArchiveContents = { files: new Map(), names: [] };
  try {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^(\.\/)+/, "");
      const regular = entry.header.type === "file" || entry.header.type === "contiguous-file";
      if (regular) contents.names.push(name);
      const bytes = regular && want(name) ? new Uint8Array(entry.header.size) : undefined;
      let filled = 0;
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        bytes?.set(chunk, filled);
        filled += chunk.length;
      }
      if (bytes) contents.files.set(name, bytes);
    }
  } catch (error) {
    // A gzip failure destroys the parser, which may surface as any tar-side error: report the cause.
    const gzipError = await feeding;
    if (gzipError) {
      throw new Error(
        `${path}: truncated or corrupt gzip data (${gzipError.message}); the archive is incomplete, ` +
          `delete it and download it again`,
        { cause: gzipError },
      );
    }
    throw new Error(
      `${path}: truncated or corrupt tar data (${(error as Error).message}); the archive is incomplete, ` +
        `delete it and download it again`,
      { cause: error },
    );
  } finally {
    await feeding;
  }
  return contents;
}

/**
 * Writes the decompressed stream into the tar parser with backpressure. Returns the gzip layer's error, if
 * any, after destroying the parser with it.
 */
async function feed(source: ReadableStream<Uint8Array>, extract: tar.Extract): Promise<Error | undefined> {
  try {
    for await (const chunk of source) {
      if (extract.destroying || extract.destroyed) return undefined;
      if (!extract.write(chunk) && !extract.destroying) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            extract.off("drain", resume);
            extract.off("close", resume);
            resolve();
          };
          extract.on("drain", resume);
          extract.on("close", resume);
        });
      }
    }
    extract.end(undefined);
    return undefined;
  } catch (error) {
    extract.destroy(error as Error);
    return error as Error;
  }
}
