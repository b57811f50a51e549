/** Small seeded in-memory data sets for the pipeline tests. */
import { type ImageDataset, imageDataset } from "../../src/data/dataset.ts";

/**
 * `count` images of `channels x height x width` random bytes; the label of image `i` is `i % classes` (or
 * `i` itself when `classes` is left out, so a batch's labels name its samples).
 */
export function randomDataset(
  count: number,
  shape: { channels: number; height: number; width: number },
  seed: number,
  classes = count,
  stats: { mean?: number[]; std?: number[] } = {},
): ImageDataset<Uint8Array> {
  const images = new Uint8Array(count * shape.channels * shape.height * shape.width);
  let state = seed >>> 0;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = state >>> 24;
  }
  const labels = classes > 255 ? new Uint16Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  return imageDataset({
    images,
    labels,
    ...shape,
    classes: Array.from({ length: classes }, (_, i) => `class ${i}`),
    ...stats,
  });
}
