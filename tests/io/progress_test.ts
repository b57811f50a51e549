import assert from "node:assert/strict";
import { formatBytes, progressReporter } from "../../src/io/progress.ts";

Deno.test("without a terminal, progress is plain lines with bytes, rate and ETA, at most every 2 s", () => {
  const lines: string[] = [];
  const report = progressReporter("cifar-10-binary.tar.gz", {
    isTTY: false,
    write: (text) => lines.push(text),
  });
  const url = "http://127.0.0.1/cifar-10-binary.tar.gz";
  report({ url, receivedBytes: 34e6, totalBytes: 170e6, bytesPerSecond: 5e6, done: false });
  report({ url, receivedBytes: 35e6, totalBytes: 170e6, bytesPerSecond: 5e6, done: false });
  report({ url, receivedBytes: 170e6, totalBytes: 170e6, bytesPerSecond: 6e6, done: true });
  assert.deepEqual(lines, [
    "cifar-10-binary.tar.gz: 34.0 MB / 170.0 MB (20%), 5.0 MB/s, ETA 28 s\n",
    "cifar-10-binary.tar.gz: 170.0 MB / 170.0 MB (100%), 6.0 MB/s, done\n",
  ]);
});

Deno.test("sizes are shown in decimal megabytes", () => {
  assert.equal(formatBytes(170_498_071), "170.5 MB");
  assert.equal(formatBytes(0), "0.0 MB");
});

Deno.test("without a known size, the plain lines show bytes and rate only", () => {
  const lines: string[] = [];
  const report = progressReporter("x.bin", { write: (text) => lines.push(text) });
  report({
    url: "http://127.0.0.1/x.bin",
    receivedBytes: 1e6,
    totalBytes: undefined,
    bytesPerSecond: 2e6,
    done: true,
  });
  assert.deepEqual(lines, ["x.bin: 1.0 MB, 2.0 MB/s, done\n"]);
});
