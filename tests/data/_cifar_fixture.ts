/**
 * Generated CIFAR-10/100 releases in the exact official layout (never downloaded): the files, the records
 * they hold, and helpers that pack them as `.tar`/`.tar.gz` or write them as folders.
 */
import * as tar from "tar-stream";
import { join } from "node:path";
import { CIFAR_LAYOUTS, type CifarName } from "../../src/data/cifar_layout.ts";

/** The official CIFAR-10 class names, as `batches.meta.txt` lists them. */
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** The official CIFAR-100 coarse class names. */
export const CIFAR100_COARSE = [
  "aquatic_mammals",
  "fish",
  "flowers",
  "food_containers",
  "fruit_and_vegetables",
  "household_electrical_devices",
  "household_furniture",
  "insects",
  "large_carnivores",
  "large_man-made_outdoor_things",
  "large_natural_outdoor_scenes",
  "large_omnivores_and_herbivores",
  "medium_mammals",
  "non-insect_invertebrates",
  "people",
  "reptiles",
  "small_mammals",
  "trees",
  "vehicles_1",
  "vehicles_2",
];

/** Stand-ins for CIFAR-100's 100 fine class names. */
export const CIFAR100_FINE = Array.from({ length: 100 }, (_, i) => `fine_${String(i).padStart(2, "0")}`);

/** One generated record, as the reader should return it. */
export interface FixtureRecord {
  /** The label the reader keeps (CIFAR-10's label or CIFAR-100's fine label). */
  label: number;
  /** CIFAR-100's coarse label (CIFAR-10: same as `label`). */
  coarse: number;
  /** The 3072 image bytes. */
  image: Uint8Array;
}

/** A generated release: file name (inside the release folder) to bytes, and the records per split. */
export interface CifarFixture {
  /** Files by name, in the order of the official archive. */
  files: Map<string, Uint8Array>;
  /** Training records in reading order. */
  train: FixtureRecord[];
  /** Test records. */
  test: FixtureRecord[];
}

/** How big a generated release is. */
export interface FixtureSize {
  /** Records per training file (CIFAR-10 has five files, CIFAR-100 one). */
  trainPerFile: number;
  /** Records of the test file. */
  test: number;
  /** Fill every image with this byte instead of varied content (fast, compressible full-size sets). */
  constantImage?: number;
}

/** The record of `index` in file `file`: deterministic labels and varied image bytes. */
function makeRecord(
  name: CifarName,
  file: number,
  index: number,
  constant: number | undefined,
): FixtureRecord {
  const image = new Uint8Array(3072);
  if (constant === undefined) {
    let state = (file * 1_000_003 + index * 7919 + 12345) >>> 0;
    for (let i = 0; i < image.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      image[i] = state >>> 24;
    }
  } else image.fill(constant);
  const label = name === "cifar10" ? (index * 3 + file) % 10 : (index * 7 + file) % 100;
  const coarse = name === "cifar10" ? label : (index + file) % 20;
  return { label, coarse, image };
}

function encodeRecords(name: CifarName, records: readonly FixtureRecord[]): Uint8Array {
  const labelBytes = name === "cifar10" ? 1 : 2;
  const size = labelBytes + 3072;
  const out = new Uint8Array(records.length * size);
  records.forEach((record, r) => {
    if (name === "cifar10") out[r * size] = record.label;
    else {
      out[r * size] = record.coarse;
      out[r * size + 1] = record.label;
    }
    out.set(record.image, r * size + labelBytes);
  });
  return out;
}

/** A release of `name` in the official layout with the given number of records. */
export function cifarFixture(name: CifarName, size: FixtureSize): CifarFixture {
  const layout = CIFAR_LAYOUTS[name];
  const train: FixtureRecord[] = [];
  const byFile = new Map<string, Uint8Array>();
  layout.trainFiles.forEach((file, f) => {
    const records = Array.from(
      { length: size.trainPerFile },
      (_, i) => makeRecord(name, f, i, size.constantImage),
    );
    train.push(...records);
    byFile.set(file, encodeRecords(name, records));
  });
  const test = Array.from({ length: size.test }, (_, i) => makeRecord(name, 99, i, size.constantImage));
  byFile.set(layout.testFiles[0], encodeRecords(name, test));
  const text = (lines: string[]) => new TextEncoder().encode(lines.join("\n") + "\n\n");
  const files = new Map<string, Uint8Array>();
  if (name === "cifar10") {
    // The order of the entries in the official archive.
    files.set("data_batch_1.bin", byFile.get("data_batch_1.bin")!);
    files.set("batches.meta.txt", text(CIFAR10_CLASSES));
    for (const file of ["data_batch_3.bin", "data_batch_4.bin", "test_batch.bin"]) {
      files.set(file, byFile.get(file)!);
    }
    files.set("readme.html", new TextEncoder().encode("<html><body>CIFAR-10 binary version</body></html>\n"));
    for (const file of ["data_batch_5.bin", "data_batch_2.bin"]) files.set(file, byFile.get(file)!);
  } else {
    files.set("coarse_label_names.txt", text(CIFAR100_COARSE));
    files.set("fine_label_names.txt", text(CIFAR100_FINE));
    files.set("test.bin", byFile.get("test.bin")!);
    files.set("train.bin", byFile.get("train.bin")!);
  }
  return { files, train, test };
}

/** A tar of `folder/` and its files, in map order, as GNU tar writes it. */
export async function tarOf(folder: string, files: Map<string, Uint8Array>): Promise<Uint8Array> {
  const pack = tar.pack();
  pack.entry({ name: `${folder}/`, type: "directory", mode: 0o755 });
  for (const [name, bytes] of files) pack.entry({ name: `${folder}/${name}`, mode: 0o644 }, bytes);
  pack.finalize();
  return await new Response(ReadableStream.from(pack as AsyncIterable<Uint8Array>)).bytes();
}

/** `bytes` gzip-compressed with the built-in `CompressionStream`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return await new Response(stream).bytes();
}

/** The release packed as its official `.tar.gz`. */
export async function archiveOf(name: CifarName, files: Map<string, Uint8Array>): Promise<Uint8Array> {
  return await gzip(await tarOf(CIFAR_LAYOUTS[name].folder, files));
}

/** Writes `files` into `dir` (created). */
export async function writeFolder(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of files) await Deno.writeFile(join(dir, name), bytes);
}

/** A copy of `files` with `name` replaced (or removed when `bytes` is undefined). */
export function withFile(
  files: Map<string, Uint8Array>,
  name: string,
  bytes: Uint8Array | undefined,
): Map<string, Uint8Array> {
  const copy = new Map(files);
  if (bytes === undefined) copy.delete(name);
  else copy.set(name, bytes);
  return copy;
}
