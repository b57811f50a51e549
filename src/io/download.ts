/**
 * Downloads one file atomically: the body goes to `<destination>.part` while its checksum (MD5, or SHA-256
 * as torch.hub checks it) is computed, and the file is renamed into place only when the checksum matches.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname } from "node:path";
import type { DownloadProgress } from "./progress.ts";

/** What {@linkcode downloadFile} fetches and where it puts it. */
export interface DownloadOptions {
  /** The address to fetch. */
  url: string;
  /** The final path; `<destination>.part` holds the download until it is verified. */
  destination: string;
  /** The expected MD5 as 32 hex digits; give this or `sha256`. */
  md5?: string;
  /**
   * The expected SHA-256 as hex digits: all 64, or the leading ones (torch.hub's weights carry the first 8
   * in their file names); give this or `md5`.
   */
  sha256?: string;
  /** Called as bytes arrive and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Fetches `url` into `destination` (creating its folder), verifying the checksum before the file appears
 * under its final name. On any failure nothing is left behind and the error names the address and the cause.
 *
 * @throws {TypeError} When neither or both of `md5` and `sha256` are given, or the one given is not hex.
 * @throws {Error} When the server cannot be reached or refuses, the download breaks off, or the checksum does
 * not match.
 *
 * @example
 * ```ts
 * import { downloadFile } from "@denogpu/resnet/io";
 * await downloadFile({
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
 *   destination: "/tmp/cifar-10-binary.tar.gz",
 *   md5: "c32a1d4ab5d03f1284b67883e8d87530",
 * });
 * ```
 */
export async function downloadFile(options: DownloadOptions): Promise<void> {
  const { url, destination, onProgress } = options;
  const checksum = checksumOf(options);
  await Deno.mkdir(dirname(destination), { recursive: true });
  const part = `${destination}.part`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`${url}: could not connect (${(error as Error).message})`, { cause: error });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`${url}: the server answered ${response.status} ${response.statusText}`.trimEnd());
  }
  const length = response.headers.get("content-length");
  const totalBytes = length === null ? undefined : Number(length);
  const hash = createHash(checksum.algorithm);
  const started = performance.now();
  let receivedBytes = 0;
  const report = (done: boolean) => {
    const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
    onProgress?.({ url, receivedBytes, totalBytes, bytesPerSecond: receivedBytes / seconds, done });
  };
  let kept = false;
  try {
    // The block closes the file before it is renamed (Windows refuses to rename an open file).
    {
      using file = await Deno.open(part, { write: true, create: true, truncate: true });
      report(false);
      try {
        for await (const chunk of response.body) {
          hash.update(chunk);
          for (let written = 0; written < chunk.length;) written += await file.write(chunk.subarray(written));
          receivedBytes += chunk.length;
          report(false);
        }
      } catch (error) {
        throw new Error(
          `${url}: the download broke off after ${receivedBytes} bytes (${(error as Error).message})`,
          { cause: error },
        );
      }
    }
    if (totalBytes !== undefined && receivedBytes !== totalBytes) {
      throw new Error(`${url}: the connection closed after ${receivedBytes} of ${totalBytes} bytes`);
    }
    const actual = hash.digest("hex");
    if (!actual.startsWith(checksum.expected)) {
      const mismatch = checksum.expected.length < actual.length
        ? `does not start with ${checksum.expected}`
        : `does not match the published ${checksum.expected}`;
      throw new Error(
        `${url}: the download's ${checksum.name} ${actual} ${mismatch}; the file is corrupt or was changed, ` +
          `and nothing was kept`,
      );
    }
    report(true);
    await Deno.rename(part, destination);
    kept = true;
  } finally {
    if (!kept) await Deno.remove(part).catch(() => {});
  }
}

/** The hash to compute and the hex digits its digest must start with. */
function checksumOf(options: DownloadOptions): { algorithm: string; name: string; expected: string } {
  const { url, md5, sha256 } = options;
  if ((md5 === undefined) === (sha256 === undefined)) {
    throw new TypeError(`${url}: give either md5 or sha256`);
  }
  const [algorithm, name, digits] = md5 !== undefined ? ["md5", "MD5", 32] : ["sha256", "SHA-256", 64];
  const expected = (md5 ?? sha256)!.toLowerCase();
  if (!new RegExp(`^[0-9a-f]{1,${digits}}$`).test(expected)) {
    throw new TypeError(`${url}: the ${name} ${md5 ?? sha256} is not up to ${digits} hex digits`);
  }
  return { algorithm, name, expected };
}
