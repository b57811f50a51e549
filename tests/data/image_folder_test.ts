import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { listImageFolder, readImageFolder } from "../../src/data/image_folder.ts";
import { decodeEntries, decodeEntry, problemsWarning } from "../../src/data/image_files.ts";
import { detectDataset } from "../../src/data/detect.ts";
import { encodeJpeg, encodePng, FIXTURES, gradientRgba } from "./_image_files.ts";

const PNG_BYTES = encodePng(4, 3, gradientRgba(4, 3));

const made: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const root of made) Deno.removeSync(root, { recursive: true });
});

/** A temporary folder holding `files` (relative path to bytes; a string is written as text). */
async function tree(files: Record<string, Uint8Array | string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "image_folder_test_" });
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(join(root, path), content);
    else await Deno.writeFile(join(root, path), content);
  }
  return root;
}

/** `count` PNGs named 00.png, 01.png, ... for each class. */
function classes(counts: Record<string, number>, prefix = ""): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const [name, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i++) files[`${prefix}${name}/${String(i).padStart(2, "0")}.png`] = PNG_BYTES;
  }
  return files;
}

function relativePaths(root: string, entries: { path: string; label: number }[]): string[] {
  return entries.map((entry) => `${entry.label} ${entry.path.slice(root.length + 1)}`);
}

Deno.test("classes sort by code point and files as torchvision's os.walk order", async () => {
  // Python's sorted puts U+FF01 before U+1F600; JavaScript's default sort would not.
  const names = ["b", "a", "Z", "é", "\uff01", "\u{1f600}"];
  const root = await tree({
    ...Object.fromEntries(names.map((name) => [`${name}/1.png`, PNG_BYTES])),
    "a/z.PNG": PNG_BYTES,
    "a/a.jpg": PNG_BYTES,
    "a/notes.txt": "not an image",
    "a/sub/b.png": PNG_BYTES,
    "a/sub/a.jpeg": PNG_BYTES,
    "a/sub b/c.webp": PNG_BYTES,
    "a/x.jpg/inner.tiff": PNG_BYTES,
    "a/.hidden/h.png": PNG_BYTES,
    "a/._photo.jpg": PNG_BYTES,
    ".ipynb_checkpoints/x.png": PNG_BYTES,
    "README.md": "a file beside the classes",
  });
  const listing = await listImageFolder(root);
  assert.deepEqual(listing.classes, ["Z", "a", "b", "é", "\uff01", "\u{1f600}"]);
  // What torchvision's make_dataset lists for the same tree (checked with torchvision 0.14), less the
  // hidden files it would take.
  assert.deepEqual(relativePaths(root, listing.entries), [
    "0 Z/1.png",
    "1 a/1.png",
    "1 a/a.jpg",
    "1 a/z.PNG",
    "1 a/sub/a.jpeg",
    "1 a/sub/b.png",
    "1 a/sub b/c.webp",
    "1 a/x.jpg/inner.tiff",
    "2 b/1.png",
    "3 é/1.png",
    "4 \uff01/1.png",
    "5 \u{1f600}/1.png",
  ]);
});

Deno.test("linked class folders and images are followed, a link cycle is not", async () => {
  const root = await tree({ "real/1.png": PNG_BYTES, "other/2.png": PNG_BYTES });
  await Deno.symlink(join(root, "real"), join(root, "linked"));
  await Deno.symlink(join(root, "other", "2.png"), join(root, "real", "3.png"));
  await Deno.symlink(join(root, "real"), join(root, "real", "loop"));
  const listing = await listImageFolder(root);
  assert.deepEqual(listing.classes, ["linked", "other", "real"]);
  assert.deepEqual(relativePaths(root, listing.entries), [
    "0 linked/1.png",
    "0 linked/3.png",
    "1 other/2.png",
    "2 real/1.png",
    "2 real/3.png",
  ]);
});

Deno.test("train/ and val/ folders are the splits, with the same labels", async () => {
  const root = await tree({
    ...classes({ cat: 3, dog: 2 }, "train/"),
    ...classes({ cat: 1, dog: 2 }, "val/"),
  });
  const data = await readImageFolder(root, { valSplit: 0.5 });
  assert.deepEqual(data.classes, ["cat", "dog"]);
  assert.deepEqual(data.split, { kind: "folders", train: join(root, "train"), val: join(root, "val") });
  assert.deepEqual(relativePaths(root, data.train), [
    "0 train/cat/00.png",
    "0 train/cat/01.png",
    "0 train/cat/02.png",
    "1 train/dog/00.png",
    "1 train/dog/01.png",
  ]);
  assert.deepEqual(relativePaths(root, data.val), [
    "0 val/cat/00.png",
    "1 val/dog/00.png",
    "1 val/dog/01.png",
  ]);
});

Deno.test("test/ stands in for val/, and val/ wins when both exist", async () => {
  const root = await tree({ ...classes({ a: 1, b: 1 }, "train/"), ...classes({ a: 2, b: 1 }, "test/") });
  const data = await readImageFolder(root);
  assert.equal(data.split.kind === "folders" && data.split.val, join(root, "test"));
  assert.equal(data.val.length, 3);
  await Deno.mkdir(join(root, "val"));
  for (const name of ["a", "b"]) {
    await Deno.mkdir(join(root, "val", name));
    await Deno.writeFile(join(root, "val", name, "x.png"), PNG_BYTES);
  }
  const preferred = await readImageFolder(root);
  assert.deepEqual(relativePaths(root, preferred.val), ["0 val/a/x.png", "1 val/b/x.png"]);
});

Deno.test("one folder splits by a seeded, class-stratified fraction", async () => {
  const root = await tree(classes({ big: 20, mid: 5, pair: 2, one: 1 }));
  const data = await readImageFolder(root, { valSplit: 0.2, seed: 7 });
  assert.deepEqual(data.split, { kind: "fraction", valSplit: 0.2, seed: 7 });
  assert.deepEqual(data.classes, ["big", "mid", "one", "pair"]);
  const count = (entries: { label: number }[]) =>
    data.classes.map((_, label) => entries.filter((e) => e.label === label).length);
  // round(20 * 0.2) = 4, round(5 * 0.2) = 1, a class of 2 keeps one back, a class of 1 none.
  assert.deepEqual(count(data.val), [4, 1, 0, 1]);
  assert.deepEqual(count(data.train), [16, 4, 1, 1]);
  const all = [...data.train, ...data.val].map((entry) => entry.path).sort();
  assert.deepEqual(all, (await listImageFolder(root)).entries.map((entry) => entry.path).sort());
  // Both splits keep torchvision's order.
  assert.deepEqual(data.val.map((e) => e.path), [...data.val.map((e) => e.path)].sort());
  // Deterministic for a seed, different for another; the default seed is 0 and the default fraction 0.1.
  assert.deepEqual(await readImageFolder(root, { valSplit: 0.2, seed: 7 }), data);
  const other = await readImageFolder(root, { valSplit: 0.2, seed: 8 });
  assert.notDeepEqual(other.val, data.val);
  const defaults = await readImageFolder(root);
  assert.deepEqual(defaults.split, { kind: "fraction", valSplit: 0.1, seed: 0 });
  assert.deepEqual(count(defaults.val), [2, 1, 0, 1]);
  assert.equal((await readImageFolder(root, { valSplit: 0 })).val.length, 0);
  // Adding an image to one class leaves the other classes' splits alone.
  await Deno.writeFile(join(root, "big", "99.png"), PNG_BYTES);
  const grown = await readImageFolder(root, { valSplit: 0.2, seed: 7 });
  assert.deepEqual(grown.val.filter((e) => e.label !== 0), data.val.filter((e) => e.label !== 0));
});

Deno.test("bad folders give errors naming them", async () => {
  const missing = join(await tree({}), "nowhere");
  await assert.rejects(
    readImageFolder(missing),
    new RegExp(`^Error: ${missing}: does not exist; expected one subfolder`),
  );
  const file = join(await tree({ "data.txt": "x" }), "data.txt");
  await assert.rejects(listImageFolder(file), new RegExp(`${file}: is a file, not a folder`));
  const flat = await tree({ "1.png": PNG_BYTES, "2.jpg": PNG_BYTES });
  await assert.rejects(
    readImageFolder(flat),
    new RegExp(`${flat}: found no class folders \\(it holds 2 images itself: is it one class's folder\\?\\)`),
  );
  const emptyClasses = await tree({ ...classes({ cat: 1 }), "dog/readme.txt": "no images", "eel/.keep": "" });
  await assert.rejects(
    readImageFolder(emptyClasses),
    new RegExp(
      `${emptyClasses}: found no valid file for the classes dog, eel\\. Supported extensions are: ` +
        "\\.jpg, \\.jpeg, \\.png, \\.ppm, \\.bmp, \\.pgm, \\.tif, \\.tiff, \\.webp",
    ),
  );
  const mismatch = await tree({
    ...classes({ a: 1, b: 1, c: 1 }, "train/"),
    ...classes({ a: 1, d: 1 }, "val/"),
  });
  await assert.rejects(
    readImageFolder(mismatch),
    new RegExp(
      `${mismatch}: train/ and val/ must hold the same class folders; ` +
        "missing from val/: b, c; missing from train/: d",
    ),
  );
  const noVal = await tree(classes({ a: 1 }, "train/"));
  await assert.rejects(
    readImageFolder(noVal),
    new RegExp(`${noVal}: has a train/ folder but no val/ or test/ folder`),
  );
  const noTrain = await tree(classes({ a: 1 }, "test/"));
  await assert.rejects(
    readImageFolder(noTrain),
    new RegExp(`${noTrain}: has a test/ folder but no train/ folder`),
  );
  const emptyVal = await tree({ ...classes({ a: 1 }, "train/"), "val/a/x.txt": "" });
  await assert.rejects(
    readImageFolder(emptyVal),
    new RegExp(`${join(emptyVal, "val")}: found no valid file for the classes a`),
  );
  await assert.rejects(
    readImageFolder(flat, { valSplit: 1 }),
    /valSplit must be a fraction in \[0, 1\), got 1/,
  );
  await assert.rejects(readImageFolder(flat, { seed: -1 }), /seed must be a non-negative safe integer/);
});

Deno.test("bad images are recorded, listed in one warning, or refused when strict", async () => {
  const big = encodePng(2, 2, gradientRgba(2, 2)).slice(0, 33);
  new DataView(big.buffer).setUint32(16, 30000);
  new DataView(big.buffer).setUint32(20, 30000);
  const jpg = encodeJpeg(40, 30, gradientRgba(40, 30));
  const root = await tree({
    "a/good.png": PNG_BYTES,
    "a/good.jpg": jpg,
    "a/zero.png": new Uint8Array(),
    "a/cut.jpg": jpg.subarray(0, 200),
    "a/text.jpg": "hello, not an image",
    "a/huge.png": big,
    "a/anim.webp": await Deno.readFile(new URL("animated.webp", FIXTURES)),
  });
  await Deno.symlink(join(root, "gone.png"), join(root, "a", "broken.png"));
  const { entries } = await listImageFolder(root);
  const { images, problems } = await decodeEntries(entries);
  assert.deepEqual(
    images.map(({ entry, image }) => [entry.path.slice(root.length + 1), image.width, image.height]),
    [
      ["a/good.jpg", 40, 30],
      ["a/good.png", 4, 3],
    ],
  );
  assert.deepEqual(problems.map((p) => [p.path.slice(root.length + 1), p.kind]), [
    ["a/anim.webp", "unsupported"],
    ["a/broken.png", "unreadable"],
    ["a/cut.jpg", "corrupt"],
    ["a/huge.png", "too-large"],
    ["a/text.jpg", "not-an-image"],
    ["a/zero.png", "empty"],
  ]);
  const warning = problemsWarning(problems)!;
  assert.match(warning, /^skipped 6 images that cannot be decoded \(strict refuses them instead\):\n/);
  for (const problem of problems) {
    assert.ok(warning.includes(`  ${problem.message}`) && problem.message.includes(problem.path));
  }
  assert.equal(problemsWarning([]), undefined);
  await assert.rejects(
    decodeEntries(entries, { strict: true }),
    new RegExp(
      `^ImageDecodeError: ${
        join(root, "a", "anim.webp")
      }: an animated WebP image.*\\(strict: bad images are refused`,
    ),
  );
  const one = await decodeEntry({ path: join(root, "a", "zero.png"), label: 0 });
  assert.equal(one.problem?.kind, "empty");
  await assert.rejects(decodeEntries(entries, { maxMegapixels: -1 }), RangeError);
});

Deno.test("detectDataset tells image folders from CIFAR releases", async () => {
  const images = await tree(classes({ cat: 1, dog: 1 }));
  assert.deepEqual(await detectDataset(images), {
    kind: "image-folder",
    evidence: "holds class folders with images (cat/ ...)",
  });
  const nested = await tree({ ...classes({ cat: 1 }, "train/"), ...classes({ cat: 1 }, "val/") });
  assert.equal((await detectDataset(nested)).kind, "image-folder");
  const deep = await tree({ "cat/2024/01/x.jpg": PNG_BYTES });
  assert.equal((await detectDataset(deep)).kind, "image-folder");
  const cifar = await tree({ "cifar-10-batches-bin/data_batch_1.bin": "" });
  assert.deepEqual(await detectDataset(cifar), {
    kind: "cifar",
    cifar: "cifar10",
    evidence: "holds cifar-10-batches-bin",
  });
  assert.deepEqual(await detectDataset(join(cifar, "cifar-10-batches-bin")), {
    kind: "cifar",
    cifar: "cifar10",
    evidence: "is a CIFAR-10 folder",
  });
  const archive = await tree({ "cifar-100-binary.tar.gz": "" });
  assert.deepEqual(await detectDataset(join(archive, "cifar-100-binary.tar.gz")), {
    kind: "cifar",
    cifar: "cifar100",
    evidence: "is an archive",
  });
  assert.equal((await detectDataset(join(archive, "nothing"))).kind, "missing");
  const neither = await tree({ "notes/readme.txt": "", "a.csv": "" });
  assert.equal((await detectDataset(neither)).kind, "unknown");
  assert.equal((await detectDataset(join(neither, "a.csv"))).kind, "unknown");
});
