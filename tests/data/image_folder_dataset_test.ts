import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { imageBytes, type ImageDataset } from "../../src/data/dataset.ts";
import { loadImageFolder } from "../../src/data/image_folder_dataset.ts";
import { openDataset } from "../../src/data/open.ts";
import { evalCrop, IMAGENET_NORMALISATION, prepareImage, resizeShorter } from "../../src/data/transforms.ts";
import { cpuBatch } from "../../src/data/cpu_batch.ts";
import { centreCrop } from "../../src/data/pixels.ts";
import { chwPlanes } from "../../src/data/rgb_image.ts";
import { decodeImage } from "../../src/data/images.ts";
import { encodeJpeg, encodePng, gradientRgba } from "./_image_files.ts";

const made: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const root of made) Deno.removeSync(root, { recursive: true });
});

async function tree(files: Record<string, Uint8Array>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "image_folder_dataset_test_" });
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeFile(join(root, path), content);
  }
  return root;
}

const bytesOf = (data: ImageDataset) => imageBytes(data, 0, data.count);

const CAT = encodePng(40, 30, gradientRgba(40, 30));
const DOG = encodeJpeg(50, 60, gradientRgba(50, 60));

function photos(): Record<string, Uint8Array> {
  return {
    "train/cat/1.png": CAT,
    "train/cat/2.png": CAT,
    "train/cat/cut.png": CAT.subarray(0, 50),
    "train/dog/1.jpg": DOG,
    "train/dog/2.jpg": DOG,
    "val/cat/1.png": CAT,
    "val/dog/1.jpg": DOG,
  };
}

Deno.test("an image folder loads as CHW bytes of the evaluation crop, bad files skipped and listed", async () => {
  const root = await tree(photos());
  const { train, test, name, source, warnings } = await loadImageFolder(root, { size: 16, cache: false });
  assert.deepEqual(train.classes, ["cat", "dog"]);
  assert.equal(train.count, 4);
  assert.equal(test.count, 2);
  assert.deepEqual([...train.labels], [0, 0, 1, 1]);
  assert.deepEqual([train.channels, train.height, train.width], [3, 16, 16]);
  assert.deepEqual(train.mean, IMAGENET_NORMALISATION.mean);
  assert.equal(name, root.split("/").pop());
  assert.match(
    source,
    /2 classes, 4 training and 2 validation images, its train\/ and val\/ folders, at 16x16/,
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /cut\.png/);
  // The first training image is the cat's evaluation crop, plane by plane.
  const crop = evalCrop(decodeImage(CAT), { size: 16 });
  for (let c = 0; c < 3; c++) {
    for (const p of [0, 17, 255]) {
      assert.equal(bytesOf(train)[c * 256 + p], crop.data[p * 3 + c], `c${c} p${p}`);
    }
  }
});

Deno.test("strict refuses the bad file, and an empty validation split is refused", async () => {
  const root = await tree(photos());
  await assert.rejects(loadImageFolder(root, { size: 16, strict: true, cache: false }), /cut\.png.*strict/);
  const flat = await tree({ "cat/1.png": CAT, "dog/1.jpg": DOG });
  await assert.rejects(
    loadImageFolder(flat, { size: 16, valSplit: 0, cache: false }),
    /no validation images/,
  );
});

Deno.test("openDataset tells an image folder from CIFAR and sizes it", async () => {
  const root = await tree({ "cat/1.png": CAT, "cat/2.png": CAT, "dog/1.jpg": DOG, "dog/2.jpg": DOG });
  const splits = await openDataset({ data: root, imageSize: 8, valSplit: 0.5 });
  assert.equal(splits.train.count, 2);
  assert.equal(splits.test.count, 2);
  assert.equal(splits.train.height, 8);
  assert.match(splits.source, /50% of each class held out, at 8x8/);
  const synthetic = await openDataset({ data: "synthetic:3", imageSize: 16 });
  assert.equal(synthetic.train.width, 16);
});

Deno.test("from 64 pixels up the training images keep their aspect ratio, up to 4:3, at the evaluation resize", async () => {
  const wide = encodePng(90, 30, gradientRgba(90, 30));
  const root = await tree({ ...photos(), "train/dog/wide.png": wide });
  const { train, test, source } = await loadImageFolder(root, { size: 64, cache: false });
  assert.deepEqual([train.height, train.width, test.height, test.width], [97, 97, 64, 64]);
  assert.equal(test.sizes, undefined);
  assert.match(
    source,
    /at 64x64; training images kept at a shorter side of 73, the longer at most 97, for the crops\)$/,
  );
  // Shorter sides resized to round(64 * 256 / 224) = 73: the cat's 40x30 to 97x73 and the dog's 50x60
  // to 73x87, whole; the 90x30 panorama to 219x73, of which the centre 95 columns are kept (a cut of
  // 124, a multiple of 4, keeps centre crops of it the resized image's).
  assert.deepEqual([...train.sizes!], [97, 73, 97, 73, 73, 87, 73, 87, 95, 73]);
  assert.equal(train.slotBytes, 3 * 73 * 97);
  const expected = ([[CAT, 97, 73], [DOG, 73, 87], [wide, 95, 73]] as const).map(([file, width, height]) =>
    chwPlanes(centreCrop(resizeShorter(decodeImage(file), 73), width, height))
  );
  for (const [index, want] of [[0, expected[0]], [2, expected[1]], [4, expected[2]]] as const) {
    assert.deepEqual(imageBytes(train, index, 1).subarray(0, want.length), want, `image ${index}`);
    assert.ok(imageBytes(train, index, 1).subarray(want.length).every((byte) => byte === 0));
  }
  const validation = evalCrop(decodeImage(CAT), { size: 64 });
  assert.equal(bytesOf(test)[64 * 64 + 5], validation.data[5 * 3 + 1]);
  // Without augmentation a training batch is the evaluation transform of each photo, as in torchvision.
  const batch = cpuBatch(
    train,
    {
      batchSize: 5,
      shuffle: false,
      augment: false,
      seed: 0,
      dropLast: false,
      size: 64,
    },
    0,
    0,
  );
  [decodeImage(CAT), decodeImage(DOG), decodeImage(wide)].forEach((image, i) => {
    const want = prepareImage(image, { size: 64, ...IMAGENET_NORMALISATION });
    const got = batch.images.subarray([0, 2, 4][i] * want.length, ([0, 2, 4][i] + 1) * want.length);
    want.forEach((value, j) => assert.ok(Math.abs(got[j] - value) < 1e-6, `photo ${i} element ${j}`));
  });
});

Deno.test("a second load reads the decoded cache; a changed file decodes again; a large split stays in its file", async () => {
  const root = await tree(photos());
  const cache = await Deno.makeTempDir({ prefix: "decoded_cache_test_" });
  made.push(cache);
  const first = await loadImageFolder(root, { size: 16, cache });
  assert.doesNotMatch(first.source, /decoded cache/);
  const second = await loadImageFolder(root, { size: 16, cache });
  assert.match(second.source, /training and validation split read from the decoded cache\)$/);
  assert.deepEqual(second.train.images, first.train.images);
  assert.deepEqual(second.train.labels, first.train.labels);
  assert.deepEqual(second.train.sizes, first.train.sizes);
  assert.match(second.warnings[0], /cut\.png/);
  await assert.rejects(loadImageFolder(root, { size: 16, cache, strict: true }), /cut\.png.*strict/);
  // A bound below the split's bytes keeps it in the cache file, read as it is used.
  const stored = await loadImageFolder(root, { size: 16, cache, maxHostBytes: 1000 });
  assert.ok(!(stored.train.images instanceof Uint8Array));
  assert.equal(stored.train.images.length, 4 * 768);
  assert.deepEqual(stored.train.images.read(768, 1536), (first.train.images as Uint8Array).slice(768, 1536));
  await Deno.writeFile(join(root, "train/cat/2.png"), DOG);
  const changed = await loadImageFolder(root, { size: 16, cache });
  assert.doesNotMatch(changed.source, /training and validation split read/);
  assert.match(changed.source, /validation split read from the decoded cache/);
  assert.notDeepEqual(changed.train.images, first.train.images);
  await assert.rejects(
    loadImageFolder(root, { size: 16, cache: false, maxHostBytes: 1000 }),
    /5 images decoded to 768 bytes each exceed the memory bound of 1000 bytes; give a cache folder/,
  );
});
