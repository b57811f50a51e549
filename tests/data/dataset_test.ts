import assert from "node:assert/strict";
import { imageDataset } from "../../src/data/dataset.ts";

const base = {
  images: new Uint8Array(2 * 3 * 4 * 4),
  labels: new Uint8Array([0, 1]),
  channels: 3,
  height: 4,
  width: 4,
  classes: ["cat", "dog"],
};

Deno.test("an in-memory data set gets its count and keeps its fields", () => {
  const data = imageDataset({ ...base, mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] });
  assert.equal(data.count, 2);
  assert.equal(data.images, base.images);
  assert.deepEqual(data.classes, ["cat", "dog"]);
  assert.deepEqual(data.mean, [0.5, 0.5, 0.5]);
  const wide = imageDataset({ ...base, labels: new Uint16Array([0, 299]), classes: Array(300).fill("c") });
  assert.equal(wide.labels[1], 299);
});

Deno.test("an inconsistent in-memory data set is refused naming the problem", () => {
  const cases: [Partial<typeof base> & { mean?: number[]; std?: number[] }, RegExp][] = [
    [{ images: new Uint8Array(95) }, /mnist: 95 image bytes do not hold 2 images of 3x4x4 \(expected 96\)/],
    [{ labels: new Uint8Array([0, 2]) }, /mnist: image 1 has label 2, expected 0\.\.1/],
    [{ classes: [] }, /at least one class name/],
    [{ width: 0 }, /width must be a positive integer, got 0/],
    [{ mean: [0.5] }, /mean must hold 3 finite numbers/],
    [{ std: [0.2, 0, 0.2] }, /std must be positive/],
  ];
  for (const [change, pattern] of cases) {
    assert.throws(() => imageDataset({ ...base, ...change }, "mnist"), pattern);
  }
});
