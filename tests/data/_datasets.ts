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

/**
 * `count` RGB images of their own sizes, as an image folder's training split keeps them: the shorter
 * side `shorter`, the longer a seeded length up to `longest`, landscape and portrait in turn; random
 * bytes, each image at the start of a slot of `3 * shorter * longest` bytes.
 */
export function ownSizeDataset(
  count: number,
  sides: { shorter: number; longest: number },
  seed: number,
  classes = count,
): ImageDataset<Uint8Array> {
  const { shorter, longest } = sides;
  const slotBytes = 3 * shorter * longest;
  const images = new Uint8Array(count * slotBytes);
  const sizes = new Uint16Array(2 * count);
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < count; i++) {
    const long = shorter + (next() >>> 8) % (longest - shorter + 1);
    const [width, height] = i % 2 === 0 ? [long, shorter] : [shorter, long];
    sizes.set([width, height], 2 * i);
    for (let b = 0; b < 3 * width * height; b++) images[i * slotBytes + b] = next() >>> 24;
  }
  const labels = new Uint8Array(count).map((_, i) => i % classes);
  return imageDataset({
    images,
    labels,
    channels: 3,
    height: longest,
    width: longest,
    sizes,
    slotBytes,
    classes: Array.from({ length: classes }, (_, i) => `class ${i}`),
  });
}
