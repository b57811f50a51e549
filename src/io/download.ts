/**
 * Downloads one file atomically: the body goes to `<destination>.part` while its MD5 is computed, and the
 * file is renamed into place only when the checksum matches.
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
  /** The expected MD5 as 32 hex digits. */
  md5: string;
  /** Called as bytes arrive and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Fetches `url` into `destination` (creating its folder), verifying the MD5 before the file appears under
 * its final name. On any failure nothing is left behind and the error names the address and the cause.
 *
 * @example
 * ```ts
 * import { downloadFile } from "./download.ts";
 * await downloadFile({
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
 *   destination: "/tmp/cifar-10-binary.tar.gz",
 *   md5: "c32a1d4ab5d03f1284b67883e8d87530",
 * });
 * ```
 */
export async function downloadFile(options: DownloadOptions): Promise<void> {
  const { url, destination, onProgress } = options;
  const expected = options.md5.toLowerCase();
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
  const hash = createHash("md5");
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
    if (actual !== expected) {
      throw new Error(
        `${url}: the download's MD5 ${actual} does not match the published ${expected}; the file is corrupt ` +
          `or was changed, and nothing was kept`,
      );
    }
    report(true);
    await Deno.rename(part, destination);
    kept = true;
  } finally {
    if (!kept) await Deno.remove(part).catch(() => {});
  }
}
