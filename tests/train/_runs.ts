/** Tiny generated data sets and helpers to compare the files of two training runs. */
import { type ImageDataset, imageDataset } from "../../src/data/dataset.ts";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import type { EpochMetrics } from "../../src/train/checkpoint.ts";

/** Ten class names. */
export const CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/**
 * `count` 32x32 RGB images whose brightness and colour depend on their class (so a network can learn a
 * little), with seeded noise on top; labels cycle through the ten classes.
 */
export function tinyDataset(count: number, seed: number): ImageDataset<Uint8Array> {
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    const label = i % 10;
    labels[i] = label;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        images[i * 3072 + c * 1024 + p] = ((label * 23 + c * 40 + (state >>> 26)) * 3) % 256;
      }
    }
  }
  return imageDataset({
    images,
    labels,
    channels: 3,
    height: 32,
    width: 32,
    classes: CLASSES,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  });
}

/** The tensors of a safetensors file as plain arrays, for deep equality. */
export async function tensorsOf(path: string): Promise<Map<string, number[]>> {
  const { tensors } = await loadSafetensors(path);
  return new Map([...tensors].map(([name, t]) => [name, Array.from(t.data as ArrayLike<number>, Number)]));
}

/** The lines of a `metrics.jsonl` without the wall-clock fields, which no two runs share. */
export async function metricsOf(
  path: string,
): Promise<Array<Omit<EpochMetrics, "seconds" | "imagesPerSecond">>> {
  const text = await Deno.readTextFile(path);
  return text.trim().split("\n").map((line) => {
    const { seconds: _seconds, imagesPerSecond: _rate, ...rest } = JSON.parse(line) as EpochMetrics;
    return rest;
  });
}
