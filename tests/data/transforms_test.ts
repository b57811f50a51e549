import assert from "node:assert/strict";
import { decodeImage, type RgbImage } from "../../src/data/images.ts";
import { sampleSeed } from "../../src/data/random.ts";
import { centreCrop } from "../../src/data/pixels.ts";
import {
  evalCrop,
  evalResizeSize,
  prepareImage,
  randomResizedCrop,
  randomResizedCropParams,
  resizedCrop,
  type ResizedCropParams,
  resizedSize,
  resizeShorter,
  storedCrop,
  storedCropBytes,
  toTensor,
  workingImage,
} from "../../src/data/transforms.ts";

const FIXTURES = new URL("../fixtures/transforms/", import.meta.url);

/** What tools/make_transform_fixtures.py wrote: torchvision's outputs for the PNGs beside them. */
interface Manifest {
  torchvision: string;
  pillow: string;
  mean: number[];
  std: number[];
  eval: { image: string; size: number; resize: number; file: string }[];
  resizedCrops: (ResizedCropParams & { image: string; size: number; file: string })[];
  fallbacks: {
    image: { width: number; height: number };
    scale: [number, number];
    ratio: [number, number];
    expected: { top: number; left: number; height: number; width: number };
  }[];
}

const manifest: Manifest = JSON.parse(await Deno.readTextFile(new URL("manifest.json", FIXTURES)));
const normalisation = { mean: manifest.mean, std: manifest.std };

async function fixtureImage(name: string): Promise<RgbImage> {
  return decodeImage(await Deno.readFile(new URL(name, FIXTURES)), name);
}

async function fixtureTensor(name: string): Promise<Float32Array> {
  const bytes = await Deno.readFile(new URL(name, FIXTURES));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/**
 * Requires every element within one pixel level (1/255 before normalisation, so 1/255/std after it) of
 * torchvision's, and returns the largest difference in pixel levels.
 */
function assertWithinOneLevel(actual: Float32Array, expected: Float32Array, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const plane = expected.length / 3;
  let levels = 0;
  for (let i = 0; i < expected.length; i++) {
    levels = Math.max(levels, Math.abs(actual[i] - expected[i]) * manifest.std[Math.floor(i / plane)] * 255);
  }
  assert.ok(
    levels <= 1,
    `${what}: differs from torchvision ${manifest.torchvision} by up to ${levels.toFixed(4)} pixel levels`,
  );
  return levels;
}

Deno.test("torchvision's Resize gives the longer side int(size * long / short)", () => {
  assert.deepEqual(resizedSize({ width: 37, height: 23 }, 18), { width: 28, height: 18 });
  assert.deepEqual(resizedSize({ width: 50, height: 64 }, 18), { width: 18, height: 23 });
  assert.deepEqual(resizedSize({ width: 19, height: 19 }, 27), { width: 27, height: 27 });
  // 3 * 7 / 3 is exactly 7: computing size / short * long instead would give 6.999... and truncate to 6.
  assert.deepEqual(resizedSize({ width: 3, height: 7 }, 3), { width: 3, height: 7 });
  assert.deepEqual(resizedSize({ width: 49, height: 70 }, 7), { width: 7, height: 10 });
  assert.throws(() => resizedSize({ width: 4, height: 4 }, 0), /resize must be a positive integer/);
  assert.deepEqual([evalResizeSize(224), evalResizeSize(16), evalResizeSize(96)], [256, 18, 110]);
});

Deno.test("the evaluation transform equals torchvision's Resize + CenterCrop + ToTensor + Normalize", async () => {
  let worst = 0;
  for (const entry of manifest.eval) {
    assert.equal(entry.resize, evalResizeSize(entry.size), `${entry.file}: resize rule`);
    const actual = prepareImage(await fixtureImage(entry.image), {
      size: entry.size,
      resize: entry.resize,
      ...normalisation,
    });
    worst = Math.max(worst, assertWithinOneLevel(actual, await fixtureTensor(entry.file), entry.file));
  }
  // PIL's resampling is reproduced byte for byte, so only float32 rounding of the normalisation remains.
  assert.ok(worst < 1e-3, `evaluation transforms differ from torchvision by up to ${worst} pixel levels`);
});

Deno.test("resized crops and flips equal torchvision's F.resized_crop + F.hflip + ToTensor + Normalize", async () => {
  let worst = 0;
  for (const entry of manifest.resizedCrops) {
    const actual = resizedCrop(await fixtureImage(entry.image), entry, {
      size: entry.size,
      ...normalisation,
    });
    worst = Math.max(worst, assertWithinOneLevel(actual, await fixtureTensor(entry.file), entry.file));
  }
  assert.ok(worst < 1e-3, `resized crops differ from torchvision by up to ${worst} pixel levels`);
});

Deno.test("RandomResizedCrop falls back to torchvision's centre crop when no attempt fits", () => {
  for (const { image, scale, ratio, expected } of manifest.fallbacks) {
    for (let seed = 0; seed < 20; seed++) {
      const { flip: _, ...window } = randomResizedCropParams(image, { seed, scale, ratio });
      assert.deepEqual(
        window,
        expected,
        `${image.width}x${image.height}, scale [${scale}], ratio [${ratio}]`,
      );
    }
  }
});

Deno.test("RandomResizedCrop windows follow the scale and ratio ranges, and half of them are flipped", () => {
  const image = { width: 120, height: 90 };
  const count = 4000;
  let flips = 0, smallest = 1, largest = 0, narrowest = Infinity, widest = 0;
  for (let position = 0; position < count; position++) {
    const { top, left, height, width, flip } = randomResizedCropParams(image, {
      seed: sampleSeed(7, 3, position),
    });
    const where = `sample ${position}: ${width}x${height} at (${left}, ${top})`;
    assert.ok(top >= 0 && left >= 0 && top + height <= image.height && left + width <= image.width, where);
    // Each side is rounded to an integer, so the ranges hold up to half a pixel of each side.
    const area = image.width * image.height;
    assert.ok((width + 0.5) * (height + 0.5) >= 0.08 * area && (width - 0.5) * (height - 0.5) <= area, where);
    assert.ok((width + 0.5) / (height - 0.5) >= 3 / 4 && (width - 0.5) / (height + 0.5) <= 4 / 3, where);
    smallest = Math.min(smallest, (width * height) / area);
    largest = Math.max(largest, (width * height) / area);
    narrowest = Math.min(narrowest, width / height);
    widest = Math.max(widest, width / height);
    if (flip) flips++;
  }
  // The ranges are covered, not just respected.
  assert.ok(smallest < 0.1 && largest > 0.9, `areas span only [${smallest}, ${largest}]`);
  assert.ok(narrowest < 0.8 && widest > 1.25, `aspect ratios span only [${narrowest}, ${widest}]`);
  // Binomial(4000, 1/2): five standard deviations are 158 flips.
  const bound = 5 * Math.sqrt(count / 4);
  assert.ok(Math.abs(flips - count / 2) <= bound, `${flips} flips out of ${count}`);
  const noFlip = randomResizedCropParams(image, { seed: 1, flip: false });
  assert.equal(noFlip.flip, false);
});

Deno.test("RandomResizedCrop is its parameters' resized crop, the same for the same seed", () => {
  const image: RgbImage = { width: 30, height: 20, data: new Uint8Array(30 * 20 * 3).map((_, i) => i * 7) };
  const options = { size: 8, seed: sampleSeed(1, 0, 4), ...normalisation };
  const params = randomResizedCropParams(image, options);
  assert.deepEqual(randomResizedCrop(image, options), resizedCrop(image, params, options));
  assert.notDeepEqual(randomResizedCropParams(image, { seed: sampleSeed(1, 0, 5) }), params);
  assert.throws(
    () => randomResizedCropParams(image, { seed: 0, scale: [0.5, 0.1] }),
    /scale must be a range/,
  );
  assert.throws(() => randomResizedCropParams(image, { seed: 0, ratio: [0, 1] }), /ratio must be a range/);
  assert.throws(
    () => resizedCrop(image, { top: 15, left: 0, height: 10, width: 5, flip: false }, options),
    /is not inside the 30x20 image/,
  );
});

Deno.test("prepareImage resizes the shorter side, crops and normalises to CHW", () => {
  const image: RgbImage = { width: 64, height: 32, data: new Uint8Array(64 * 32 * 3) };
  for (let i = 0; i < 64 * 32; i++) image.data.set([255, 0, 51], i * 3);
  const mean = [0.5, 0.25, 0.2], std = [0.5, 0.25, 0.1];
  const input = prepareImage(image, { size: 16, mean, std });
  assert.equal(input.length, 3 * 16 * 16);
  assert.ok(input.subarray(0, 256).every((v) => Math.abs(v - 1) < 1e-6));
  assert.ok(input.subarray(256, 512).every((v) => Math.abs(v + 1) < 1e-6));
  assert.ok(input.subarray(512).every((v) => Math.abs(v - 0) < 1e-6));
  assert.throws(
    () => prepareImage(image, { size: 16, resize: 8, mean, std }),
    /resize must be an integer of at least size 16/,
  );
  assert.deepEqual(
    resizeShorter(image, 16).data,
    new Uint8Array(32 * 16 * 3).map((_, i) => [255, 0, 51][i % 3]),
  );
  assert.throws(() => toTensor(image, { mean: [0.5], std: [0.5] }), /mean and std need 3 values each/);
});

Deno.test("the working image is Resize(resize), the longer side's centre cropped to at most longest", () => {
  const pixels = (width: number, height: number): RgbImage => ({
    width,
    height,
    data: new Uint8Array(width * height * 3).map((_, i) => (i * 37) & 255),
  });
  // 40x30 resizes to 26x20 and fits; 30x60 to 20x40, whose 14 surplus rows leave 24 (a cut of 16).
  for (const [width, height, kept] of [[40, 30, [26, 20]], [30, 60, [20, 24]], [20, 20, [20, 20]]] as const) {
    const image = pixels(width, height);
    const got = workingImage(image, { resize: 20, longest: 26 });
    const resized = resizeShorter(image, 20);
    assert.deepEqual([got.width, got.height], kept);
    assert.deepEqual(got, centreCrop(resized, kept[0], kept[1]));
    assert.deepEqual(storedCrop(image, { resize: 20, longest: 26 }), got);
  }
  assert.deepEqual(storedCrop(pixels(40, 30), { size: 16 }), evalCrop(pixels(40, 30), { size: 16 }));
  assert.equal(storedCropBytes({ resize: 20, longest: 26 }), 3 * 20 * 26);
  assert.throws(
    () => workingImage(pixels(4, 4), { resize: 4, longest: 3 }),
    /longest must be an integer of at least/,
  );
});
