/**
 * Tells which kind of data set a path holds, CIFAR's binary release or an image folder, without reading
 * it, so that a command line can say what it found before loading.
 *
 * @module
 */

import { basename, join } from "node:path";
import { CIFAR_LAYOUTS, type CifarName, requiredFiles } from "./cifar_layout.ts";
import { hasImageExtension } from "./image_folder.ts";

/** What {@linkcode detectDataset} found. */
export interface DetectedDataset {
  /**
   * `"cifar"`: an archive, or a CIFAR folder or one holding it (read with `readCifar`); `"image-folder"`:
   * class folders holding images, directly or under `train/` (read with `readImageFolder`);
   * `"missing"`: nothing is there; `"unknown"`: neither.
   */
  kind: "cifar" | "image-folder" | "missing" | "unknown";
  /** Which CIFAR release, when the names tell. */
  cifar?: CifarName;
  /** What was seen, for messages, e.g. `holds cifar-10-batches-bin/`. */
  evidence: string;
}

const ARCHIVE_ENDINGS = [".tar.gz", ".tgz", ".tar"];

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

async function names(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (!entry.name.startsWith(".")) entries.push(entry);
  } catch {
    // An unreadable folder holds nothing we can use; the reader will say why.
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether any image lies under `dir`, searched depth first; stops at the first one. */
async function holdsImage(dir: string, depth = 0): Promise<boolean> {
  const entries = await names(dir);
  if (entries.some((entry) => !entry.isDirectory && hasImageExtension(entry.name))) return true;
  // Deep enough for nested class folders, and a bound against a link cycle.
  if (depth >= 8) return false;
  for (const entry of entries) {
    if ((entry.isDirectory || entry.isSymlink) && (await holdsImage(join(dir, entry.name), depth + 1))) {
      return true;
    }
  }
  return false;
}

async function cifarEvidence(dir: string): Promise<DetectedDataset | undefined> {
  for (
    const [name, layout] of Object.entries(CIFAR_LAYOUTS) as [CifarName, (typeof CIFAR_LAYOUTS)[CifarName]][]
  ) {
    if (basename(dir) === layout.folder) {
      return { kind: "cifar", cifar: name, evidence: `is a ${layout.title} folder` };
    }
    for (const inside of [layout.folder, layout.archive, ...requiredFiles(layout)]) {
      if (await statOrUndefined(join(dir, inside))) {
        return { kind: "cifar", cifar: name, evidence: `holds ${inside}` };
      }
    }
  }
  return undefined;
}

/**
 * Looks at `path` and says whether it holds a CIFAR release (an archive, the extracted folder, or a folder
 * holding either) or an image folder (subfolders holding images, directly or under `train/`). Reads
 * folder listings only, never a file's contents.
 *
 * @example
 * ```ts
 * import { detectDataset } from "@denogpu/resnet/data";
 * const found = await detectDataset("data");
 * console.log(`data ${found.evidence}: reading it as ${found.kind}`);
 * ```
 */
export async function detectDataset(path: string): Promise<DetectedDataset> {
  const info = await statOrUndefined(path);
  if (!info) return { kind: "missing", evidence: "does not exist" };
  if (!info.isDirectory) {
    const lower = basename(path).toLowerCase();
    if (!ARCHIVE_ENDINGS.some((ending) => lower.endsWith(ending))) {
      return { kind: "unknown", evidence: "is a file but not a .tar.gz, .tgz or .tar archive" };
    }
    const named = (Object.entries(CIFAR_LAYOUTS) as [CifarName, { archive: string }][])
      .find(([, layout]) => layout.archive === basename(path));
    return { kind: "cifar", cifar: named?.[0], evidence: "is an archive" };
  }
  const cifar = await cifarEvidence(path);
  if (cifar) return cifar;
  const train = join(path, "train");
  const classRoot = (await statOrUndefined(train))?.isDirectory ? train : path;
  for (const entry of await names(classRoot)) {
    if ((entry.isDirectory || entry.isSymlink) && (await holdsImage(join(classRoot, entry.name)))) {
      const where = classRoot === path ? "" : "train/ ";
      return {
        kind: "image-folder",
        evidence: `holds ${where}class folders with images (${entry.name}/ ...)`,
      };
    }
  }
  return { kind: "unknown", evidence: "holds neither CIFAR files nor class folders with images" };
}
