// The training augmentation's frequencies against their exact distribution (issue 16): RandomCrop(32,
// padding=4) picks each of the 81 offsets with probability 1/81, RandomHorizontalFlip flips half the
// samples, and neither depends on the other, on the sample's previous epoch or on its neighbour in the
// batch. Measured on the pixels cpuBatch produces, which the GPU kernel equals bit for bit
// (gpu_batcher_test.ts), so that a bias anywhere between the random stream and the copy shows here.
import assert from "node:assert/strict";
import { cpuBatch } from "../../src/data/cpu_batch.ts";
import { imageDataset } from "../../src/data/dataset.ts";

const SIZE = 32;
const PADDING = 4;
const SPAN = 2 * PADDING + 1;

/** `count` copies of an image whose channel 0 holds row + 1 and channel 1 column + 1. */
function coordinateImages(count: number) {
  const plane = SIZE * SIZE;
  const one = new Uint8Array(3 * plane);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      one[y * SIZE + x] = y + 1;
      one[plane + y * SIZE + x] = x + 1;
    }
  }
  const images = new Uint8Array(count * one.length);
  for (let i = 0; i < count; i++) images.set(one, i * one.length);
  return imageDataset({
    images,
    labels: new Uint8Array(count),
    channels: 3,
    height: SIZE,
    width: SIZE,
    classes: ["only"],
    mean: [0, 0, 0],
    std: [1, 1, 1],
  });
}

interface Draw {
  dy: number;
  dx: number;
  flipped: boolean;
}

/** Reads the crop offset and the flip back from the centre pixels of one augmented sample. */
function readDraw(images: Float32Array, slot: number): Draw {
  const plane = SIZE * SIZE;
  const at = (c: number, y: number, x: number) =>
    Math.round(images[slot * 3 * plane + c * plane + y * SIZE + x] * 255);
  const row = at(0, 16, 16) - 1;
  const left = at(1, 16, 16) - 1;
  const flipped = at(1, 16, 17) - 1 < left;
  // Unflipped, output column 16 shows source column 16 + dx; flipped, it shows 15 + dx.
  return { dy: row - 16, dx: left - (flipped ? 15 : 16), flipped };
}

/** Pearson's chi-square of observed counts against equal expected counts. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

Deno.test("crops are uniform over the 81 offsets, flips fair, and the two independent across samples and epochs", () => {
  const samples = 256;
  const epochs = 32;
  const batchSize = 128;
  const data = coordinateImages(samples);
  const options = { batchSize, shuffle: true, augment: true, seed: 3, dropLast: true };
  const draws: Draw[][] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const epochDraws: Draw[] = [];
    for (let batch = 0; batch < samples / batchSize; batch++) {
      const { images } = cpuBatch(data, options, epoch, batch);
      for (let slot = 0; slot < batchSize; slot++) epochDraws.push(readDraw(images, slot));
    }
    draws.push(epochDraws);
  }
  const all = draws.flat();
  const n = all.length;
  const offsets = new Array(SPAN * SPAN).fill(0);
  for (const { dy, dx } of all) {
    assert.ok(Math.abs(dy) <= PADDING && Math.abs(dx) <= PADDING, `offset (${dy}, ${dx})`);
    offsets[(dy + PADDING) * SPAN + dx + PADDING]++;
  }
  // 80 degrees of freedom: mean 80, standard deviation 12.6; 150 is beyond p = 1e-6.
  const offsetChi = chiSquare(offsets);
  assert.ok(offsetChi < 150, `chi-square of the 81 offsets ${offsetChi.toFixed(1)} over ${n} samples`);
  assert.ok(offsets.every((c) => c > 0), "every offset occurs");

  const flips = all.filter((d) => d.flipped).length;
  assert.ok(Math.abs(flips - n / 2) < 5 * Math.sqrt(n) / 2, `${flips} flips of ${n}`);

  // Flip against the row offset: 9 x 2 cells, 8 degrees of freedom (p = 1e-6 beyond about 45).
  const byRow = Array.from({ length: SPAN }, () => [0, 0]);
  for (const { dy, flipped } of all) byRow[dy + PADDING][flipped ? 1 : 0]++;
  let independence = 0;
  for (const [kept, mirrored] of byRow) {
    const rowTotal = kept + mirrored;
    for (const [observed, share] of [[kept, n - flips], [mirrored, flips]]) {
      const expected = (rowTotal * share) / n;
      independence += (observed - expected) ** 2 / expected;
    }
  }
  assert.ok(independence < 45, `flip against crop row: chi-square ${independence.toFixed(1)}`);

  // Neighbours in a batch and the same position one epoch later: correlations of the column offset.
  const correlation = (pairs: Array<[number, number]>) => {
    const mean = (k: 0 | 1) => pairs.reduce((s, p) => s + p[k], 0) / pairs.length;
    const [ma, mb] = [mean(0), mean(1)];
    let ab = 0, aa = 0, bb = 0;
    for (const [a, b] of pairs) {
      ab += (a - ma) * (b - mb);
      aa += (a - ma) ** 2;
      bb += (b - mb) ** 2;
    }
    return ab / Math.sqrt(aa * bb);
  };
  const neighbours: Array<[number, number]> = [];
  const nextEpoch: Array<[number, number]> = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = 0; i < samples; i++) {
      if (i + 1 < samples) neighbours.push([draws[epoch][i].dx, draws[epoch][i + 1].dx]);
      if (epoch + 1 < epochs) nextEpoch.push([draws[epoch][i].dx, draws[epoch + 1][i].dx]);
    }
  }
  for (const [what, pairs] of [["neighbours", neighbours], ["next epoch", nextEpoch]] as const) {
    const r = correlation(pairs);
    assert.ok(Math.abs(r) < 5 / Math.sqrt(pairs.length), `${what}: correlation ${r.toFixed(4)}`);
  }
});
