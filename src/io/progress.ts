/**
 * Download progress on stderr: a `cli-progress` bar (bytes, rate, ETA) on a terminal, plain lines every
 * few seconds otherwise (CI logs, pipes).
 *
 * @module
 */

import process from "node:process";
import cliProgress from "cli-progress";

/** One report of a download's progress. */
export interface DownloadProgress {
  /** The address being downloaded. */
  url: string;
  /** Bytes received so far. */
  receivedBytes: number;
  /** The full size from `Content-Length`, when the server sent it. */
  totalBytes: number | undefined;
  /** Average rate since the download started. */
  bytesPerSecond: number;
  /** True on the last report, once every byte has arrived. */
  done: boolean;
}

/** The subset of `cli-progress`'s `SingleBar` used here (the package ships no types). */
interface SingleBar {
  start(total: number, value: number, payload: Record<string, string>): void;
  update(value: number, payload: Record<string, string>): void;
  stop(): void;
}

/** Where progress goes: `process.stderr` unless a test captures it. */
export interface ProgressOutput {
  /** True for a terminal, where a bar is drawn. */
  isTTY?: boolean;
  /** Writes text. */
  write(text: string): unknown;
}

const PLAIN_INTERVAL_MS = 2000;

/**
 * `12.3 MB`: sizes in decimal megabytes, as download pages state them.
 *
 * @example
 * ```ts
 * import { formatBytes } from "@denogpu/resnet/io";
 * console.log(formatBytes(170_498_071)); // "170.5 MB"
 * ```
 */
export function formatBytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * A progress reporter for the download named `label`: pass it as `onProgress`. Draws a bar when `output`
 * (stderr by default) is a terminal and writes a plain line every 2 s (and at the end) when it is not.
 *
 * @example
 * ```ts
 * import { progressReporter } from "@denogpu/resnet/io";
 * const report = progressReporter("cifar-10-binary.tar.gz");
 * report({ url: "https://...", receivedBytes: 0, totalBytes: 170e6, bytesPerSecond: 0, done: false });
 * ```
 */
export function progressReporter(
  label: string,
  output: ProgressOutput = process.stderr,
): (progress: DownloadProgress) => void {
  let bar: SingleBar | undefined;
  let lastLine = -Infinity;
  return (progress) => {
    const { receivedBytes, totalBytes, bytesPerSecond, done } = progress;
    const eta = totalBytes !== undefined && bytesPerSecond > 0
      ? `${Math.ceil((totalBytes - receivedBytes) / bytesPerSecond)} s`
      : "?";
    const payload = {
      received: formatBytes(receivedBytes),
      speed: `${formatBytes(bytesPerSecond)}/s`,
      remaining: eta,
    };
    if (output.isTTY && totalBytes !== undefined) {
      if (!bar) {
        bar = new cliProgress.SingleBar({
          format: `${label} [{bar}] {percentage}% | {received} / {size} | {speed} | ETA {remaining}`,
          stream: output,
          hideCursor: true,
        }, cliProgress.Presets.shades_classic) as SingleBar;
        bar.start(totalBytes, receivedBytes, { ...payload, size: formatBytes(totalBytes) });
      }
      bar.update(receivedBytes, payload);
      if (done) bar.stop();
      return;
    }
    const now = performance.now();
    if (!done && now - lastLine < PLAIN_INTERVAL_MS) return;
    lastLine = now;
    let line = `${label}: ${payload.received}`;
    if (totalBytes !== undefined) {
      line += ` / ${formatBytes(totalBytes)} (${
        Math.floor((receivedBytes / Math.max(totalBytes, 1)) * 100)
      }%)`;
    }
    line += `, ${payload.speed}`;
    if (!done && eta !== "?") line += `, ETA ${eta}`;
    output.write(`${line}${done ? ", done" : ""}\n`);
  };
}
