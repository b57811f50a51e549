import assert from "node:assert/strict";
import { defaultAugment, parseAugment } from "../../src/data/augment_spec.ts";
import { planBatches } from "../../src/data/batch_plan.ts";
import { randomDataset } from "./_datasets.ts";

Deno.test("augmentation specs name torchvision's transforms", () => {
  const size = { size: 224 };
  assert.deepEqual(parseAugment("randomresizedcrop,flip", size), { crop: "resized", flip: true, cutout: 0 });
  assert.deepEqual(parseAugment(" crop , flip ", { size: 32 }), { crop: "random", flip: true, cutout: 0 });
  assert.deepEqual(parseAugment("crop:2,cutout", { size: 32 }), {
    crop: "random",
    padding: 2,
    flip: false,
    cutout: 16,
  });
  assert.deepEqual(parseAugment("flip,cutout:8", size), { crop: "centre", flip: true, cutout: 8 });
  assert.equal(parseAugment("none", size), false);
  assert.equal(defaultAugment({ imageSize: 32, size: 32 }), "crop,flip");
  assert.equal(defaultAugment({ imageSize: 256, size: 224 }), "randomresizedcrop,flip");
  assert.equal(defaultAugment({ imageSize: 32, size: 224 }), "randomresizedcrop,flip");
});

Deno.test("bad augmentation specs are refused with what was expected", () => {
  const size = { size: 32 };
  const cases: [string, RegExp][] = [
    ["", /no augmentation named/],
    ["crop,rotate", /unknown word "rotate"; expected words of crop, randomresizedcrop, flip, cutout, none/],
    ["flip,flip", /flip given twice/],
    ["none,flip", /none cannot be combined/],
    ["crop,randomresizedcrop", /crop and randomresizedcrop exclude each other/],
    ["cutout:-3", /cutout's value must be a non-negative integer, got "-3"/],
    ["flip:2", /flip takes no value/],
    ["crop:1:2", /unknown word "crop:1:2"/],
  ];
  for (const [spec, message] of cases) assert.throws(() => parseAugment(spec, size), message, spec);
});

Deno.test("a plan resizes when asked for a resized crop or when the images are smaller than the batch's", () => {
  const data = randomDataset(4, { channels: 3, height: 32, width: 32 }, 1, 2);
  const plan = (augment: ReturnType<typeof parseAugment>, size?: number) =>
    planBatches(data, { batchSize: 2, shuffle: true, augment, seed: 0, dropLast: true, size });
  assert.equal(plan(parseAugment("crop,flip", { size: 32 })).kind, "crop");
  assert.equal(plan(parseAugment("crop,flip", { size: 32 })).padding, 4);
  assert.equal(plan(parseAugment("crop", { size: 24 }), 24).padding, 0);
  assert.equal(plan(parseAugment("randomresizedcrop", { size: 32 })).kind, "resize");
  assert.equal(plan(false, 64).kind, "resize");
  assert.equal(plan(false, 16).kind, "crop");
  assert.throws(
    () => plan(parseAugment("crop", { size: 64 }), 64),
    /a random crop of 64x64 does not fit the data set's 32x32 images padded by 0; use the resized crop/,
  );
  assert.throws(
    () => plan({ crop: "resized", padding: 4 }),
    /augment.padding applies to the random crop, not to crop "resized"/,
  );
  assert.throws(() => plan({ crop: "resized", scale: [0, 1] }), /augment.scale must be a range 0 < low/);
  assert.throws(() => plan(false, 0), /size must be a positive integer, got 0/);
});
