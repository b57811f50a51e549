import assert from "node:assert/strict";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { SHAPES } from "../../src/data/_shapes.ts";
import type { ImageDataset } from "../../src/data/dataset.ts";

const NAMES = [
  "circle",
  "ring",
  "square",
  "frame",
  "triangle",
  "crescent",
  "plus",
  "bar",
  "two-bars",
  "star",
];

function classCounts(data: ImageDataset): number[] {
  const counts = new Array(data.classes.length).fill(0);
  for (const label of data.labels) counts[label]++;
  return counts;
}

Deno.test("the splits have the asked size, counts and class names", () => {
  const { train, test, source, warnings } = syntheticDataset({ train: 30, test: 12, classes: 3, size: 40 });
  for (const [split, count] of [[train, 30], [test, 12]] as const) {
    assert.equal(split.count, count);
    assert.deepEqual([split.channels, split.height, split.width], [3, 40, 40]);
    assert.equal(split.images.length, count * 3 * 40 * 40);
    assert.deepEqual(split.classes, ["circle", "ring", "square"]);
  }
  assert.equal(source, "synthetic shapes (seed 0, 3 classes, 40x40)");
  assert.deepEqual(warnings, []);
  const all = syntheticDataset({ train: 10, test: 10 });
  assert.deepEqual(all.train.classes, NAMES);
  assert.equal(all.train.height, 32);
});

Deno.test("a seed gives the same bytes; another seed, or the other split, different ones", () => {
  const options = { train: 20, test: 20, size: 16 };
  const a = syntheticDataset({ ...options, seed: 7 });
  const b = syntheticDataset({ ...options, seed: 7 });
  const c = syntheticDataset({ ...options, seed: 8 });
  assert.deepEqual(a.train.images, b.train.images);
  assert.deepEqual(a.train.labels, b.train.labels);
  assert.deepEqual(a.test.images, b.test.images);
  assert.notDeepEqual(a.train.images, c.train.images);
  assert.notDeepEqual(a.train.labels, c.train.labels);
  assert.notDeepEqual(a.train.images, a.test.images);
});

Deno.test("classes are balanced and shuffled; counts that do not divide evenly warn", () => {
  const { train, test, warnings } = syntheticDataset({ train: 100, test: 23, size: 8 });
  assert.deepEqual(classCounts(train), new Array(10).fill(10));
  assert.ok(train.labels.some((label, i) => label !== i % 10), "labels are not in class order");
  assert.deepEqual(classCounts(test), [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
  assert.deepEqual(warnings, [
    "the synthetic test split's 23 images do not divide evenly into 10 classes: " +
    "the first 3 classes get one image more",
  ]);
});

Deno.test("both splits carry the training split's per-channel mean and std", () => {
  const { train, test } = syntheticDataset({ train: 40, test: 10, size: 16, seed: 3 });
  const plane = 16 * 16;
  for (let c = 0; c < 3; c++) {
    let sum = 0, squares = 0;
    for (let i = 0; i < train.count; i++) {
      for (let p = 0; p < plane; p++) {
        const v = train.images[(i * 3 + c) * plane + p] / 255;
        sum += v;
        squares += v * v;
      }
    }
    const n = train.count * plane;
    assert.ok(Math.abs(train.mean![c] - sum / n) < 1e-9, `mean of channel ${c}`);
    assert.ok(
      Math.abs(train.std![c] - Math.sqrt(squares / n - (sum / n) ** 2)) < 1e-9,
      `std of channel ${c}`,
    );
  }
  assert.deepEqual(test.mean, train.mean);
  assert.deepEqual(test.std, train.std);
});

Deno.test("options out of range are refused naming the option", () => {
  const cases: [Parameters<typeof syntheticDataset>[0], RegExp][] = [
    [{ seed: -1 }, /seed must be a non-negative safe integer, got -1/],
    [{ size: 4 }, /size must be an integer of at least 8, got 4/],
    [{ train: 0 }, /train must be a positive integer, got 0/],
    [{ test: 1.5 }, /test must be a positive integer, got 1.5/],
    [{ classes: 11 }, /classes must be an integer from 1 to 10, got 11/],
  ];
  for (const [options, pattern] of cases) assert.throws(() => syntheticDataset(options), pattern);
});

Deno.test("no shape is another one turned, so each class needs its own shape", () => {
  // Soft masks of every shape turned through 5-degree steps: a shape turned off the grid still overlaps
  // itself by 0.89 or more (intersection over union), while the closest two shapes (circle and square)
  // overlap by 0.78 at best.
  const side = 32;
  const steps = 72;
  const mask = (name: string, angle: number) => {
    const distance = SHAPES[name](11, 2.3);
    const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
    const out = new Float32Array(side * side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const [dx, dy] = [x + 0.5 - side / 2, y + 0.5 - side / 2];
        out[y * side + x] = Math.min(
          1,
          Math.max(0, 0.5 - distance(cos * dx + sin * dy, cos * dy - sin * dx)),
        );
      }
    }
    return out;
  };
  const overlap = (a: Float32Array, b: Float32Array) => {
    let both = 0, either = 0;
    for (let p = 0; p < a.length; p++) {
      both += Math.min(a[p], b[p]);
      either += Math.max(a[p], b[p]);
    }
    return both / either;
  };
  assert.deepEqual(Object.keys(SHAPES), NAMES);
  const turned = NAMES.map((name) =>
    Array.from({ length: steps }, (_, k) => mask(name, (k * 2 * Math.PI) / steps))
  );
  for (let a = 0; a < NAMES.length; a++) {
    for (let b = a + 1; b < NAMES.length; b++) {
      const best = Math.max(...turned[b].map((m) => overlap(turned[a][0], m)));
      assert.ok(best < 0.85, `${NAMES[a]} and ${NAMES[b]} overlap by ${best.toFixed(2)} when turned`);
    }
  }
});

Deno.test("every image shows its label's shape: filled shapes cover more than strokes", () => {
  const { train } = syntheticDataset({ train: 400, test: 1, seed: 5 });
  const plane = 32 * 32;
  const light = new Array(10).fill(0);
  for (let i = 0; i < train.count; i++) {
    const image = train.images.subarray(i * 3 * plane, (i + 1) * 3 * plane);
    let pixels = 0;
    for (let p = 0; p < plane; p++) {
      // Light shapes (channels 150..255) on dark ground (0..99): the grey level's midpoint splits them.
      if (image[p] + image[plane + p] + image[2 * plane + p] > 3 * 125) pixels++;
    }
    light[train.labels[i]] += pixels / plane / 40;
  }
  const area = (name: string) => light[NAMES.indexOf(name)];
  for (const filled of ["circle", "square"]) {
    for (const stroke of ["ring", "frame", "bar", "two-bars"]) {
      assert.ok(area(filled) > 1.5 * area(stroke), `${filled} ${area(filled)} vs ${stroke} ${area(stroke)}`);
    }
  }
});
