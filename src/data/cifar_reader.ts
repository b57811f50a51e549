/**
 * Reads an official CIFAR-10 or CIFAR-100 binary release from its `.tar.gz` archive (streamed), from the
 * extracted folder, or from a folder holding either, validating every file on the way.
 *
 * @module
 */

import { basename, join } from "node:path";
import { statOrUndefined } from "../io/_fs.ts";
import { readArchive } from "./archive.ts";
import type { ImageDataset } from "./dataset.ts";
import {
  CIFAR_LAYOUTS,
  type CifarLabelKind,
  type CifarLayout,
  type CifarName,
  requiredFiles,
} from "./cifar_layout.ts";
import { assembleCifarSplit, type CifarFile, cifarRecordCount, parseClassNames } from "./cifar_records.ts";

/** Both splits of a CIFAR data set. */
export interface CifarSplits {
  /** The training split (50,000 images in the official release). */
  train: ImageDataset<Uint8Array>;
  /** The test split (10,000 images in the official release). */
  test: ImageDataset<Uint8Array>;
  /** Which data set. */
  name: CifarName;
  /** The archive or folder the data was read from. */
  source: string;
  /** Things worth telling the user, e.g. that a split holds fewer records than the official release. */
  warnings: string[];
}

/** Options of {@linkcode readCifar}. */
export interface ReadCifarOptions {
  /** Which data set, `"cifar10"` by default. */
  dataset?: CifarName;
  /** CIFAR-100 only: keep the 100 `"fine"` labels (default) or the 20 `"coarse"` ones. */
  labels?: CifarLabelKind;
}

/**
 * Reads both splits of CIFAR-10/100 from `path`: the official `.tar.gz` (or `.tar`), the extracted
 * `cifar-10-batches-bin/` (`cifar-100-binary/`) folder, or a folder holding either. Throws an error naming
 * the offending file for anything that is not in the official layout.
 *
 * @example
 * ```ts
 * import { readCifar } from "@denogpu/resnet/data";
 * const { train, test } = await readCifar("downloads/cifar-10-binary.tar.gz");
 * console.log(train.count, test.count, train.classes[0]); // 50000 10000 airplane
 * ```
 */
export async function readCifar(path: string, options: ReadCifarOptions = {}): Promise<CifarSplits> {
  const name = options.dataset ?? "cifar10";
  const layout = CIFAR_LAYOUTS[name];
  if (!layout) throw new RangeError(`unknown data set "${name}", expected "cifar10" or "cifar100"`);
  const kind = labelKind(layout, options.labels);
  const { source, archive } = await locate(layout, path);
  const files = archive ? await filesFromArchive(layout, source) : await filesFromFolder(layout, source);
  const classNames: Record<string, string[]> = {};
  for (const [labels, file] of Object.entries(layout.classFiles)) {
    const { bytes, where } = files.classFiles[file];
    classNames[labels] = parseClassNames(bytes, layout.classCounts[labels], where);
  }
  const train = assembleCifarSplit(layout, files.train, kind, classNames[kind]);
  const test = assembleCifarSplit(layout, files.test, kind, classNames[kind]);
  const splits = [["training", train, layout.trainCount], ["test", test, layout.testCount]] as const;
  const warnings = splits.filter(([, data, full]) => data.count !== full).map(([split, data, full]) =>
    `${source}: the ${layout.title} ${split} split holds ${data.count} records; the official release ` +
    `has ${full.toLocaleString("en-US")}`
  );
  return { train, test, name, source, warnings };
}

interface SplitFiles {
  train: CifarFile[];
  test: CifarFile[];
  classFiles: Record<string, CifarFile>;
}

/** The archive or data folder that `path` is or holds. */
async function locate(layout: CifarLayout, path: string): Promise<{ source: string; archive: boolean }> {
  const info = await statOrUndefined(path);
  if (!info) throw new Error(`${path}: does not exist; ${expectation(layout)}`);
  if (info.isFile) return { source: path, archive: true };
  if (await isDataFolder(layout, path)) return { source: path, archive: false };
  const folder = join(path, layout.folder);
  if ((await statOrUndefined(folder))?.isDirectory) return { source: folder, archive: false };
  const archive = join(path, layout.archive);
  if ((await statOrUndefined(archive))?.isFile) return { source: archive, archive: true };
  throw new Error(
    `${path}: is neither a ${layout.title} archive nor a ${layout.title} folder; ` +
      `${expectation(layout)}${await otherDatasetHint(layout, path)}`,
  );
}

function labelKind(layout: CifarLayout, wanted: CifarLabelKind | undefined): CifarLabelKind | "label" {
  if (layout.labelBytes.length === 1) {
    if (wanted === "coarse") {
      throw new RangeError(`${layout.title} has no coarse labels (only CIFAR-100 does)`);
    }
    return "label";
  }
  const kind = wanted ?? "fine";
  if (!layout.labelBytes.includes(kind)) {
    throw new RangeError(`labels must be "fine" or "coarse", got "${kind}"`);
  }
  return kind;
}

function expectation(layout: CifarLayout): string {
  return `expected the official ${layout.archive}, its extracted ${layout.folder}/ folder ` +
    `(${requiredFiles(layout).join(", ")}), or a folder holding either`;
}

async function isDataFolder(layout: CifarLayout, dir: string): Promise<boolean> {
  if (basename(dir) === layout.folder) return true;
  for (const file of requiredFiles(layout)) {
    if (await statOrUndefined(join(dir, file))) return true;
  }
  return false;
}

async function otherDatasetHint(layout: CifarLayout, dir: string): Promise<string> {
  for (const [name, other] of Object.entries(CIFAR_LAYOUTS)) {
    if (other === layout) continue;
    if (await statOrUndefined(join(dir, other.folder)) || await statOrUndefined(join(dir, other.archive))) {
      return ` (it holds ${other.title}: pass dataset "${name}")`;
    }
  }
  return "";
}

function archiveHint(layout: CifarLayout, names: readonly string[]): string {
  for (const [name, other] of Object.entries(CIFAR_LAYOUTS)) {
    if (other !== layout && names.some((entry) => entry.startsWith(`${other.folder}/`))) {
      return `; it is a ${other.title} archive: pass dataset "${name}"`;
    }
  }
  return "";
}

function missing(layout: CifarLayout, where: string, file: string, context: string): Error {
  return new Error(
    `${where}: ${file} is missing${context}; a ${layout.title} release holds ` +
      `${requiredFiles(layout).join(", ")}`,
  );
}

async function filesFromFolder(layout: CifarLayout, dir: string): Promise<SplitFiles> {
  const dataFiles = new Set([...layout.trainFiles, ...layout.testFiles]);
  // Presence and sizes are checked before anything is read so that a bad release fails fast.
  for (const file of requiredFiles(layout)) {
    const info = await statOrUndefined(join(dir, file));
    if (!info?.isFile) throw missing(layout, dir, file, "");
    if (dataFiles.has(file)) cifarRecordCount(layout, info.size, join(dir, file));
  }
  const load = (files: readonly string[]) =>
    Promise.all(
      files.map(async (file) => ({ where: join(dir, file), bytes: await Deno.readFile(join(dir, file)) })),
    );
  const classFileNames = Object.values(layout.classFiles);
  const classFiles = Object.fromEntries(
    (await load(classFileNames)).map((file, i) => [classFileNames[i], file]),
  );
  return { train: await load(layout.trainFiles), test: await load(layout.testFiles), classFiles };
}

async function filesFromArchive(layout: CifarLayout, path: string): Promise<SplitFiles> {
  const wanted = new Set(requiredFiles(layout).map((file) => `${layout.folder}/${file}`));
  const { files, names } = await readArchive(path, (name) => wanted.has(name));
  const take = (file: string): CifarFile => {
    const entry = `${layout.folder}/${file}`;
    const bytes = files.get(entry);
    if (!bytes) {
      const shown = names.slice(0, 8).join(", ") + (names.length > 8 ? ", ..." : "");
      const holds = ` from the archive (it holds ${names.length ? shown : "no files"})`;
      throw missing(layout, path, entry, holds + archiveHint(layout, names));
    }
    return { where: `${path}: ${entry}`, bytes };
  };
  const train = layout.trainFiles.map(take);
  const test = layout.testFiles.map(take);
  const classFiles = Object.fromEntries(Object.values(layout.classFiles).map((file) => [file, take(file)]));
  return { train, test, classFiles };
}
