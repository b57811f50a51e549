import assert from "node:assert/strict";
import type { BatchOptions } from "../../src/data/batch_plan.ts";
import { cpuBatch } from "../../src/data/cpu_batch.ts";
import { PADDING_LABEL } from "../../src/ops/cross_entropy.ts";
import { draw, sampleSeed } from "../../src/data/random.ts";
import { referenceAugment } from "./_augment_reference.ts";
import { randomDataset } from "./_datasets.ts";

const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
const CIFAR10_STD = [0.2470, 0.2435, 0.2616];
const shape = { channels: 3, height: 8, width: 8 };
const imageSize = 3 * 8 * 8;
const plain: BatchOptions = { batchSize: 4, shuffle: false, augment: false, seed: 0, dropLast: false };

Deno.test("without shuffling or augmentation a batch is the next images, normalised with CIFAR-10's statistics", () => {
  const data = randomDataset(10, shape, 1, 3);
  const { images, labels, count } = cpuBatch(data, plain, 0, 1);
  assert.equal(count, 4);
  assert.deepEqual([...labels], [4 % 3, 5 % 3, 6 % 3, 7 % 3]);
  for (let i = 0; i < 4 * imageSize; i++) {
    const c = Math.floor((i % imageSize) / 64);
    const byte = data.images[4 * imageSize + i];
    assert.equal(images[i], Math.fround((byte / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]), `element ${i}`);
  }
});

Deno.test("a short last batch is padded with label 0xFFFFFFFF and zero images, or dropped", () => {
  const data = randomDataset(10, shape, 2);
  const last = cpuBatch(data, plain, 0, 2);
  assert.equal(last.count, 2);
  assert.deepEqual([...last.labels], [8, 9, PADDING_LABEL, PADDING_LABEL]);
  assert.ok(last.images.subarray(2 * imageSize).every((v) => v === 0));
  assert.ok(last.images.subarray(0, 2 * imageSize).some((v) => v !== 0));
  const dropping = { ...plain, dropLast: true };
  assert.equal(cpuBatch(data, dropping, 0, 1).count, 4);
  assert.throws(() => cpuBatch(data, dropping, 0, 2), /batch must be an integer in 0\.\.1, got 2/);
});

Deno.test("a shuffled epoch visits every sample once, in a new order each epoch, the same for the same seed", () => {
  const data = randomDataset(23, shape, 3);
  const options = { ...plain, shuffle: true, batchSize: 5, seed: 9 };
  const visit = (seed: number, epoch: number) =>
    [0, 1, 2, 3, 4].flatMap((b) => {
      const { labels, count } = cpuBatch(data, { ...options, seed }, epoch, b);
      return [...labels.subarray(0, count)];
    });
  const epoch0 = visit(9, 0);
  assert.deepEqual([...epoch0].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
  assert.notDeepEqual(epoch0, Array.from({ length: 23 }, (_, i) => i));
  assert.deepEqual(visit(9, 0), epoch0);
  assert.notDeepEqual(visit(9, 1), epoch0);
  assert.notDeepEqual(visit(10, 0), epoch0);
});

for (
  const [name, augment] of [
    ["zero padding 4 and flips", { padding: 4 }],
    ["reflect padding 3, flips and Cutout 4", { padding: 3, paddingMode: "reflect", cutout: 4 }],
    ["Cutout 5 alone", { padding: 0, flip: false, cutout: 5 }],
  ] as const
) {
  Deno.test(`augmented samples equal the torchvision-shaped reference: ${name}`, () => {
    const data = randomDataset(40, shape, 4, 40, { mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3] });
    const options: BatchOptions = { batchSize: 16, shuffle: true, augment, seed: 77, dropLast: false };
    const padding = augment.padding;
    const settings = {
      ...shape,
      padding,
      reflect: "paddingMode" in augment,
      cutout: "cutout" in augment ? augment.cutout : 0,
      mean: [0.5, 0.4, 0.3],
      std: [0.25, 0.2, 0.3],
    };
    const flips = new Set<boolean>(), tops = new Set<number>();
    for (const [epoch, b] of [[0, 0], [0, 2], [5, 1]]) {
      const { images, labels, count } = cpuBatch(data, options, epoch, b);
      for (let slot = 0; slot < count; slot++) {
        const seed = sampleSeed(77, epoch, b * 16 + slot);
        const flip = (!("flip" in augment) || augment.flip) && (draw(seed, 2) & 1) === 1;
        const choice = {
          top: draw(seed, 0) % (2 * padding + 1),
          left: draw(seed, 1) % (2 * padding + 1),
          flip,
          cutY: draw(seed, 3) % 8,
          cutX: draw(seed, 4) % 8,
        };
        flips.add(flip);
        tops.add(choice.top);
        // Labels are sample indices in this data set.
        const sample = labels[slot];
        const source = data.images.subarray(sample * imageSize, (sample + 1) * imageSize);
        const expected = referenceAugment(source, settings, choice);
        assert.deepEqual(
          images.subarray(slot * imageSize, (slot + 1) * imageSize),
          Float32Array.from(expected),
          `epoch ${epoch} batch ${b} slot ${slot}`,
        );
      }
    }
    if (padding > 0) assert.ok(tops.size > 3, `crops too alike: ${[...tops]}`);
    if (!("flip" in augment)) assert.equal(flips.size, 2);
  });
}

Deno.test("the same seed, epoch and batch give the same augmented batch; another seed another", () => {
  const data = randomDataset(12, shape, 5);
  const options: BatchOptions = {
    batchSize: 6,
    shuffle: true,
    augment: { cutout: 3 },
    seed: 1,
    dropLast: true,
  };
  const a = cpuBatch(data, options, 2, 1);
  assert.deepEqual(cpuBatch(data, options, 2, 1), a);
  assert.notDeepEqual(cpuBatch(data, { ...options, seed: 2 }, 2, 1).images, a.images);
});

Deno.test("bad options are refused with what was expected", () => {
  const data = randomDataset(6, shape, 6);
  const gray = randomDataset(6, { channels: 1, height: 4, width: 4 }, 6);
  const cases: [Parameters<typeof cpuBatch>[0], Partial<BatchOptions>, RegExp][] = [
    [data, { batchSize: 0 }, /batchSize must be a positive integer, got 0/],
    [
      data,
      { batchSize: 7, dropLast: true },
      /6 samples makes no batch of 7 when the short last batch is dropped/,
    ],
    [data, { seed: -3 }, /seed must be a non-negative safe integer/],
    [data, { augment: { padding: -1 } }, /augment.padding must be a non-negative integer/],
    [data, { augment: { padding: 8, paddingMode: "reflect" } }, /reflect padding of 8 needs images larger/],
    [data, { augment: { cutout: 2.5 } }, /augment.cutout must be a non-negative integer/],
    [data, { mean: [0.5, 0.5] }, /mean and std need 3 values each/],
    [data, { std: [1, 0, 1] }, /std must be positive/],
    [gray, {}, /mean and std are needed for images of 1 channels/],
  ];
  for (const [dataset, change, pattern] of cases) {
    assert.throws(() => cpuBatch(dataset, { ...plain, ...change }, 0, 0), pattern);
  }
  assert.throws(() => cpuBatch(data, plain, -1, 0), /epoch must be an integer/);
});
