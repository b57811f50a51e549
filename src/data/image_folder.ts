/**
 * Image folders as torchvision's `ImageFolder` (`DatasetFolder`) reads them: `root/<class>/<image>`, one
 * folder per class, and the training and validation splits, from `train/` and `val/` (or `test/`) folders
 * or split off one folder by a seeded fraction of each class.
 *
 * @module
 */

import { join, relative, sep } from "node:path";
import { statOrUndefined } from "../io/_fs.ts";
import { mix32, seed32 } from "./random.ts";

/** torchvision's `IMG_EXTENSIONS`: the file names (compared lower-cased) that count as images. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
];

/** One image of a data set: its file and its class's index in the sorted class names. */
export interface ImageEntry {
  /** The file, `join(folder, class, ...)`. */
  path: string;
  /** Index into the data set's `classes`. */
  label: number;
}

/** One folder's classes and images, as torchvision's `ImageFolder(folder)` lists them. */
export interface ImageFolderListing {
  /** The folder. */
  folder: string;
  /** Class names: its subfolders, sorted by code point (Python's `sorted`). */
  classes: string[];
  /** Every image, class by class, in torchvision's order. */
  entries: ImageEntry[];
}

/** How {@linkcode readImageFolder} finds the validation split. */
export interface ImageFolderOptions {
  /**
   * Without `train/`: the fraction of each class held out for validation, `round(n * valSplit)` of a
   * class of `n` images (halves round up), at least one when `n >= 2` and never all of them. 0 holds
   * nothing out. Ignored when `root/train` exists.
   *
   * @default {0.1}
   */
  valSplit?: number;
  /** Seeds which images are held out; the same seed and files give the same split. @default {0} */
  seed?: number;
}

/** Where the two splits came from. */
export type ImageFolderSplit =
  | { kind: "folders"; train: string; val: string }
  | { kind: "fraction"; valSplit: number; seed: number };

/** The classes and both splits of an image folder. */
export interface ImageFolderSplits {
  /** The folder given. */
  root: string;
  /** Class names, sorted by code point; labels index into them. */
  classes: string[];
  /** Training images, class by class in torchvision's order. */
  train: ImageEntry[];
  /** Validation images, in the same order. */
  val: ImageEntry[];
  /** `root/train` and `root/val` (or `root/test`), or a seeded fraction of `root` itself. */
  split: ImageFolderSplit;
}

const LAYOUT = "expected one subfolder of images per class (root/<class>/<image>), or train/ and val/ " +
  "(or test/) folders laid out so";

/**
 * Orders strings by Unicode code point, as Python's `sorted` does; JavaScript's default sort compares
 * UTF-16 units, which puts characters past U+FFFF before those from U+E000 to U+FFFF.
 */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Whether torchvision would take a file of this name for an image: its name ends in one of
 * {@linkcode IMAGE_EXTENSIONS}, in any case.
 *
 * @example
 * ```ts
 * import { hasImageExtension } from "@denogpu/resnet/data";
 * console.log(hasImageExtension("IMG_0001.JPG"), hasImageExtension("notes.txt")); // true false
 * ```
 */
export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

interface Listed {
  files: string[];
  dirs: string[];
}

/**
 * The files and folders in `dir`, hidden ones left out, symbolic links followed as `os.walk(...,
 * followlinks=True)` does; a broken link counts as a file (decoding it then reports it unreadable).
 */
async function listDir(dir: string): Promise<Listed> {
  const listed: Listed = { files: [], dirs: [] };
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".")) continue;
      const isDir = entry.isSymlink
        ? (await statOrUndefined(join(dir, entry.name)).catch(() => undefined))?.isDirectory
        : entry.isDirectory;
      (isDir ? listed.dirs : listed.files).push(entry.name);
    }
  } catch (error) {
    throw new Error(`${dir}: cannot be read (${(error as Error).message})`, { cause: error });
  }
  return listed;
}

/**
 * The images under one class folder in torchvision's order: `sorted(os.walk(dir))` visits folders in the
 * code point order of their paths and each folder's files sorted. A link back to a folder being walked
 * is not followed again (Python would loop until the path grew too long).
 */
async function classImages(dir: string): Promise<string[]> {
  const folders: { path: string; files: string[] }[] = [];
  const walk = async (path: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const real = await Deno.realPath(path).catch(() => path);
    if (ancestors.has(real)) return;
    const { files, dirs } = await listDir(path);
    folders.push({ path, files: files.filter(hasImageExtension).sort(compareCodePoints) });
    const inside = new Set(ancestors).add(real);
    for (const sub of dirs) await walk(join(path, sub), inside);
  };
  await walk(dir, new Set());
  folders.sort((a, b) => compareCodePoints(a.path, b.path));
  return folders.flatMap((folder) => folder.files.map((file) => join(folder.path, file)));
}

/**
 * Lists one image folder as torchvision's `ImageFolder(folder)` does: every subfolder is a class (sorted
 * by code point), and every file under it, however deep, whose name ends in one of
 * {@linkcode IMAGE_EXTENSIONS} (any case) is one of its images; other files are ignored. Unlike
 * torchvision, hidden files and folders (names starting with ".") are skipped, so that `.ipynb_checkpoints`
 * is no class and macOS's `._photo.jpg` no photo.
 *
 * @example
 * ```ts
 * import { listImageFolder } from "@denogpu/resnet/data";
 * const { classes, entries } = await listImageFolder("photos/train");
 * console.log(classes, entries.length); // e.g. ["cat", "dog"] 2000
 * ```
 *
 * @throws {Error} Naming the folder when it does not exist, cannot be read, has no class folders, or
 * has class folders without images (torchvision's "Found no valid file for the classes ...").
 */
export async function listImageFolder(folder: string): Promise<ImageFolderListing> {
  const info = await statOrUndefined(folder).catch((error) => {
    throw new Error(`${folder}: cannot be read (${error.message}); ${LAYOUT}`, { cause: error });
  });
  if (!info) throw new Error(`${folder}: does not exist; ${LAYOUT}`);
  if (!info.isDirectory) throw new Error(`${folder}: is a file, not a folder; ${LAYOUT}`);
  const { files, dirs } = await listDir(folder);
  const classes = dirs.sort(compareCodePoints);
  if (classes.length === 0) {
    const images = files.filter(hasImageExtension).length;
    const hint = images ? ` (it holds ${images} images itself: is it one class's folder?)` : "";
    throw new Error(`${folder}: found no class folders${hint}; ${LAYOUT}`);
  }
  const perClass = await Promise.all(classes.map((name) => classImages(join(folder, name))));
  const empty = classes.filter((_, label) => perClass[label].length === 0);
  if (empty.length) {
    throw new Error(
      `${folder}: found no valid file for the classes ${empty.join(", ")}. ` +
        `Supported extensions are: ${IMAGE_EXTENSIONS.join(", ")}`,
    );
  }
  const entries = perClass.flatMap((paths, label) => paths.map((path) => ({ path, label })));
  return { folder, classes, entries };
}

// Keeps the split's hashes apart from the shuffle's and augmentation's streams of the same seed.
const SPLIT_DOMAIN = 0x68e31da4;

/**
 * A seeded hash of an image's path inside the data set: holding out the images of smallest hash is a
 * seeded shuffle that moves few images when files are added, and none of the other classes.
 */
function splitKey(seed: number, path: string): number {
  let h = mix32((seed32(seed) ^ SPLIT_DOMAIN) >>> 0);
  for (let i = 0; i < path.length; i++) h = mix32((h ^ path.charCodeAt(i)) >>> 0);
  return h;
}

/** How many of a class's `n` images are held out. */
function heldOut(n: number, valSplit: number): number {
  if (valSplit === 0 || n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * valSplit)));
}

function splitByFraction(listing: ImageFolderListing, valSplit: number, seed: number) {
  const byClass: number[][] = listing.classes.map(() => []);
  listing.entries.forEach((entry, i) => byClass[entry.label].push(i));
  const isVal = new Uint8Array(listing.entries.length);
  for (const members of byClass) {
    const keyed = members.map((i) => ({
      i,
      // The path below the data set with "/" between names, so that the split is the same on Windows.
      key: splitKey(seed, relative(listing.folder, listing.entries[i].path).split(sep).join("/")),
    }));
    keyed.sort((a, b) => a.key - b.key || a.i - b.i);
    for (const { i } of keyed.slice(0, heldOut(members.length, valSplit))) isVal[i] = 1;
  }
  return {
    train: listing.entries.filter((_, i) => !isVal[i]),
    val: listing.entries.filter((_, i) => isVal[i]),
  };
}

async function isFolder(path: string): Promise<boolean> {
  return (await statOrUndefined(path).catch(() => undefined))?.isDirectory ?? false;
}

/**
 * Reads an image folder's classes and its training and validation splits. When `root/train` exists, it
 * is the training split and `root/val` (else `root/test`) the validation split, and both must have the
 * same classes. Otherwise `root` holds the classes and each class's `valSplit` fraction, chosen by a
 * seeded hash of the file's path, is held out for validation. Folders are listed as
 * {@linkcode listImageFolder} lists them, as torchvision's `ImageFolder` does.
 *
 * @example
 * ```ts
 * import { readImageFolder } from "@denogpu/resnet/data";
 * const { classes, train, val } = await readImageFolder("photos", { valSplit: 0.2, seed: 1 });
 * console.log(classes.length, train.length, val.length);
 * ```
 *
 * @throws {Error} Naming the folder: every error of {@linkcode listImageFolder}, a `train/` without
 * `val/` or `test/` (or the reverse), and classes found in only one of the two splits (named).
 * @throws {RangeError} When `valSplit` is not in [0, 1) or `seed` is not a non-negative safe integer.
 */
export async function readImageFolder(
  root: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolderSplits> {
  const valSplit = options.valSplit ?? 0.1;
  const seed = options.seed ?? 0;
  if (!(valSplit >= 0 && valSplit < 1)) {
    throw new RangeError(`valSplit must be a fraction in [0, 1), got ${valSplit}`);
  }
  seed32(seed); // refuses a bad seed before any folder is read
  const trainDir = join(root, "train");
  const valDir = (await isFolder(join(root, "val"))) ? join(root, "val") : join(root, "test");
  if (!(await isFolder(trainDir))) {
    if (await isFolder(valDir)) {
      throw new Error(
        `${root}: has a ${relative(root, valDir)}/ folder but no train/ folder beside it; ${LAYOUT}`,
      );
    }
    const listing = await listImageFolder(root);
    const { train, val } = splitByFraction(listing, valSplit, seed);
    return { root, classes: listing.classes, train, val, split: { kind: "fraction", valSplit, seed } };
  }
  if (!(await isFolder(valDir))) {
    throw new Error(
      `${root}: has a train/ folder but no val/ or test/ folder beside it; add one, or point at ` +
        `${trainDir} itself to split it by valSplit`,
    );
  }
  const [train, val] = await Promise.all([listImageFolder(trainDir), listImageFolder(valDir)]);
  const valName = relative(root, valDir);
  const onlyTrain = train.classes.filter((name) => !val.classes.includes(name));
  const onlyVal = val.classes.filter((name) => !train.classes.includes(name));
  if (onlyTrain.length || onlyVal.length) {
    const parts = [
      onlyTrain.length ? `missing from ${valName}/: ${onlyTrain.join(", ")}` : "",
      onlyVal.length ? `missing from train/: ${onlyVal.join(", ")}` : "",
    ];
    throw new Error(
      `${root}: train/ and ${valName}/ must hold the same class folders; ${parts.filter(Boolean).join("; ")}`,
    );
  }
  return {
    root,
    classes: train.classes,
    train: train.entries,
    val: val.entries,
    split: { kind: "folders", train: trainDir, val: valDir },
  };
}
