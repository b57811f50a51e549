import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { loadImageFolder } from "../../src/data/image_folder_dataset.ts";
import { openDataset } from "../../src/data/open.ts";
import { evalCrop, IMAGENET_NORMALISATION } from "../../src/data/transforms.ts";
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
  const { train, test, name, source, warnings } = await loadImageFolder(root, { size: 16 });
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
      assert.equal(train.images[c * 256 + p], crop.data[p * 3 + c], `c${c} p${p}`);
    }
  }
});

Deno.test("strict refuses the bad file, and an empty validation split is refused", async () => {
  const root = await tree(photos());
  await assert.rejects(loadImageFolder(root, { size: 16, strict: true }), /cut\.png.*strict/);
  const flat = await tree({ "cat/1.png": CAT, "dog/1.jpg": DOG });
  await assert.rejects(loadImageFolder(flat, { size: 16, valSplit: 0 }), /no validation images/);
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

Deno.test("from 64 pixels up the training images are kept at the evaluation resize's side for the crops", async () => {
  const root = await tree(photos());
  const { train, test, source } = await loadImageFolder(root, { size: 64 });
  assert.deepEqual([train.height, train.width, test.height, test.width], [73, 73, 64, 64]);
  assert.match(source, /at 64x64; training images kept at 73x73 for the crops\)$/);
  // The cat's training image is the centre square of its shorter side resized to round(64 * 256 / 224).
  const working = evalCrop(decodeImage(CAT), { size: 73, resize: 73 });
  const plane = 73 * 73;
  for (let c = 0; c < 3; c++) {
    for (const p of [0, 100, plane - 1]) assert.equal(train.images[c * plane + p], working.data[p * 3 + c]);
  }
  const validation = evalCrop(decodeImage(CAT), { size: 64 });
  assert.equal(test.images[64 * 64 + 5], validation.data[5 * 3 + 1]);
});
