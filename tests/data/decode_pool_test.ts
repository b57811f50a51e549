import assert from "node:assert/strict";
import { join } from "node:path";
import { type DecodedCrop, decodeEntriesParallel } from "../../src/data/decode_pool.ts";
import { chwPlanes } from "../../src/data/rgb_image.ts";
import { ImageDecodeError } from "../../src/data/image_error.ts";
import { decodeEntries } from "../../src/data/image_files.ts";
import type { ImageEntry } from "../../src/data/image_folder.ts";
import { type StoredCrop, storedCrop } from "../../src/data/transforms.ts";
import { encodeJpeg, encodePng, gradientRgba, withOrientation } from "./_image_files.ts";

const made: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const root of made) Deno.removeSync(root, { recursive: true });
});

/** Pixels that do not compress to nothing, so that the JPEG's every block and the resize matter. */
function noisyRgba(width: number, height: number, seed: number): Uint8Array {
  const rgba = gradientRgba(width, height);
  let state = seed;
  for (let i = 0; i < rgba.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    if (i % 4 !== 3) rgba[i] = (rgba[i] + (state >>> 26)) & 255;
  }
  return rgba;
}

const JPEG = encodeJpeg(120, 90, noisyRgba(120, 90, 1));

/** Good and bad files interleaved, so that the order of both lists is tested. */
const FILES: [string, Uint8Array][] = [
  ["0.png", encodePng(40, 30, gradientRgba(40, 30))],
  ["empty.png", new Uint8Array()],
  ["1.jpg", JPEG],
  ["notes.jpg", new TextEncoder().encode("not a photo\n")],
  ["2.jpg", withOrientation(encodeJpeg(50, 60, noisyRgba(50, 60, 2)), 6)],
  ["3.png", encodePng(33, 47, noisyRgba(33, 47, 3))],
  ["cut.jpg", JPEG.subarray(0, JPEG.length - 40)],
  ["4.jpg", withOrientation(encodeJpeg(64, 48, noisyRgba(64, 48, 4), 75), 3, true)],
  ["5.jpg", encodeJpeg(31, 77, noisyRgba(31, 77, 5))],
  ["6.png", encodePng(25, 25, noisyRgba(25, 25, 6))],
  ["7.jpg", encodeJpeg(200, 150, noisyRgba(200, 150, 7))],
  ["8.jpg", JPEG],
];

async function folder(): Promise<ImageEntry[]> {
  const root = await Deno.makeTempDir({ prefix: "decode_pool_test_" });
  made.push(root);
  const entries: ImageEntry[] = [];
  for (const [name, bytes] of FILES) {
    await Deno.writeFile(join(root, name), bytes);
    entries.push({ path: join(root, name), label: entries.length % 3 });
  }
  return entries;
}

/** The sequential path as loadImageFolder took it: decodeEntries with storedCrop, then RGB to CHW. */
async function sequential(entries: ImageEntry[], crop: StoredCrop, exifOrientation?: boolean) {
  const { images, problems } = await decodeEntries(entries, {
    exifOrientation,
    prepare: (image) => storedCrop(image, crop),
  });
  return {
    images: images.map(({ entry, image }) => ({
      entry,
      chw: chwPlanes(image),
      width: image.width,
      height: image.height,
    })),
    problems,
  };
}

/** Counts the workers started and terminated while `body` runs. */
async function countingWorkers(body: () => Promise<void>): Promise<{ started: number; terminated: number }> {
  const original = globalThis.Worker;
  const counts = { started: 0, terminated: 0 };
  globalThis.Worker = class extends original {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      counts.started++;
    }
    override terminate(): void {
      counts.terminated++;
      super.terminate();
    }
  };
  try {
    await body();
  } finally {
    globalThis.Worker = original;
  }
  return counts;
}

Deno.test("chwPlanes splits interleaved RGB into R, G and B planes", () => {
  const planes = chwPlanes({ width: 3, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) });
  assert.deepEqual([...planes], [1, 4, 7, 2, 5, 8, 3, 6, 9]);
});

for (const workers of [1, 3]) {
  Deno.test(`${workers} worker(s) give the sequential crops byte for byte and the problems in order`, async () => {
    const entries = await folder();
    const crops: StoredCrop[] = [{ size: 24 }, { size: 16, resize: 20 }, { resize: 20, longest: 26 }];
    for (const crop of crops) {
      const expected = await sequential(entries, crop);
      const progress: [number, number][] = [];
      let got: Awaited<ReturnType<typeof decodeEntriesParallel>> | undefined;
      const counts = await countingWorkers(async () => {
        got = await decodeEntriesParallel(entries, {
          crop,
          workers,
          onProgress: (done, total) => progress.push([done, total]),
        });
      });
      assert.deepEqual(counts, { started: workers, terminated: workers });
      assert.deepEqual(got!.problems, expected.problems);
      assert.deepEqual(got!.problems.map((p) => p.kind), ["empty", "not-an-image", "corrupt"]);
      assert.deepEqual(got!.images.map(({ entry }) => entry), expected.images.map(({ entry }) => entry));
      got!.images.forEach((image, i) => assert.deepEqual(image, expected.images[i], `image ${i}`));
      assert.deepEqual(progress, entries.map((_, i) => [i + 1, entries.length]));
    }
  });
}

Deno.test("decode options reach the workers: without EXIF orientation the crops follow torchvision", async () => {
  const entries = (await folder()).filter((entry) => /[24]\.jpg$/.test(entry.path));
  const crop = { size: 24 };
  const expected = await sequential(entries, crop, false);
  const got = await decodeEntriesParallel(entries, { crop, workers: 2, exifOrientation: false });
  assert.deepEqual(got.images, expected.images);
  const upright = await decodeEntriesParallel(entries, { crop, workers: 2 });
  assert.notDeepEqual(upright.images[0].chw, got.images[0].chw);
});

Deno.test("strict refuses the first bad file in the entries' order, naming it, and stops every worker", async () => {
  const entries = await folder();
  const sequentialError = await decodeEntries(entries, { strict: true }).catch((error) => error);
  for (const workers of [1, 3]) {
    const counts = await countingWorkers(async () => {
      await assert.rejects(
        decodeEntriesParallel(entries, { crop: { size: 16 }, strict: true, workers }),
        (error) => {
          assert.ok(error instanceof ImageDecodeError);
          assert.match(
            error.message,
            /empty\.png: empty file.*\(strict: bad images are refused, not skipped\)/,
          );
          assert.equal(error.message, sequentialError.message);
          assert.equal(error.kind, "empty");
          assert.equal(error.source, entries[1].path);
          return true;
        },
      );
    });
    assert.deepEqual(counts, { started: workers, terminated: workers });
  }
  // A later bad file is the one refused when the earlier ones decode.
  await assert.rejects(
    decodeEntriesParallel([entries[0], entries[2], entries[3]], { crop: { size: 16 }, strict: true }),
    /notes\.jpg: not a PNG, JPEG or WebP image.*strict/,
  );
});

Deno.test("an error that is not a bad file reaches the caller naming the file, and the workers stop", async () => {
  const entries = await folder();
  const counts = await countingWorkers(async () => {
    await assert.rejects(
      decodeEntriesParallel(entries, { crop: { size: 24, resize: 20 }, workers: 3 }),
      (error) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /0\.png: decoding failed in a worker: RangeError: resize must be/);
        return true;
      },
    );
  });
  assert.deepEqual(counts, { started: 3, terminated: 3 });
  await assert.rejects(decodeEntriesParallel(entries, { crop: { size: 24 }, workers: 0 }), /workers must be/);
});

Deno.test("the pool is never larger than the list, and an empty list starts no worker", async () => {
  const entries = (await folder()).slice(0, 2);
  const counts = await countingWorkers(async () => {
    const { images, problems } = await decodeEntriesParallel(entries, { crop: { size: 8 }, workers: 16 });
    assert.equal(images.length, 1);
    assert.equal(problems.length, 1);
    assert.deepEqual(await decodeEntriesParallel([], { crop: { size: 8 } }), { images: [], problems: [] });
  });
  assert.deepEqual(counts, { started: 2, terminated: 2 });
});

Deno.test("onImage takes the crops in the entries' order instead of collecting them", async () => {
  const entries = await folder();
  const crop = { size: 12 };
  const expected = await sequential(entries, crop);
  const taken: ({ entry: ImageEntry } & DecodedCrop)[] = [];
  const result = await decodeEntriesParallel(entries, {
    crop,
    workers: 2,
    onImage: (entry, decoded) => taken.push({ entry, ...decoded }),
  });
  assert.deepEqual(result.images, []);
  assert.deepEqual(taken, expected.images);
  assert.deepEqual(result.problems, expected.problems);
  await assert.rejects(
    decodeEntriesParallel(entries, {
      crop,
      workers: 2,
      onImage: () => {
        throw new Error("disk full");
      },
    }),
    /disk full/,
  );
});
