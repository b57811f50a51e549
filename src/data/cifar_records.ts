/**
 * Validation and decoding of CIFAR binary files: record counts from file sizes, label ranges, class-name
 * files, and the assembly of a split's files into one {@linkcode ImageDataset}.
 *
 * @module
 */

import { type ImageDataset, imageDataset } from "./dataset.ts";
import { CIFAR_IMAGE_BYTES, type CifarLabelKind, type CifarLayout, recordBytes } from "./cifar_layout.ts";

/** One file of a split: where it came from (for messages) and its bytes. */
export interface CifarFile {
  /** The path or archive entry named in errors. */
  where: string;
  /** The whole file. */
  bytes: Uint8Array;
}

/**
 * The number of records a data file of `size` bytes holds; throws, naming the file, unless the size is a
 * positive multiple of the record size.
 */
export function cifarRecordCount(layout: CifarLayout, size: number, where: string): number {
  const record = recordBytes(layout);
  const labels = layout.labelBytes.length === 1
    ? "1 label byte"
    : `${layout.labelBytes.join(" and ")} label bytes`;
  if (size === 0 || size % record !== 0) {
    throw new Error(
      `${where}: ${size} bytes is not a whole, non-zero number of ${layout.title} records of ${record} bytes ` +
        `(${labels} + ${CIFAR_IMAGE_BYTES} image bytes); the file is truncated or not a ${layout.title} file`,
    );
  }
  return size / record;
}

/** Class names of a names file, one per line (blank lines ignored); throws unless there are `expected`. */
export function parseClassNames(bytes: Uint8Array, expected: number, where: string): string[] {
  const names = new TextDecoder().decode(bytes).split(/\r?\n/).map((line) => line.trim()).filter((line) =>
    line !== ""
  );
  if (names.length !== expected) {
    throw new Error(`${where}: holds ${names.length} class names, expected ${expected} (one per line)`);
  }
  return names;
}

/**
 * Decodes a split's data files, in order, into one data set: every label byte is checked against its
 * class count, and the labels of `kind` are kept.
 */
export function assembleCifarSplit(
  layout: CifarLayout,
  files: readonly CifarFile[],
  kind: CifarLabelKind | "label",
  classes: string[],
): ImageDataset<Uint8Array> {
  const counts = files.map((file) => cifarRecordCount(layout, file.bytes.length, file.where));
  const total = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(total * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(total);
  const record = recordBytes(layout);
  const kept = layout.labelBytes.indexOf(kind);
  let next = 0;
  files.forEach((file, f) => {
    const { bytes, where } = file;
    for (let r = 0; r < counts[f]; r++) {
      const start = r * record;
      layout.labelBytes.forEach((labelKind, b) => {
        const label = bytes[start + b];
        const limit = layout.classCounts[labelKind];
        if (label >= limit) {
          const which = layout.labelBytes.length === 1 ? "label" : `${labelKind} label`;
          throw new Error(
            `${where}: record ${r} (byte offset ${start + b}) has ${which} ${label}, expected 0..${
              limit - 1
            } ` +
              `for ${layout.title}; the file is corrupt`,
          );
        }
      });
      labels[next] = bytes[start + kept];
      images.set(bytes.subarray(start + layout.labelBytes.length, start + record), next * CIFAR_IMAGE_BYTES);
      next++;
    }
  });
  return imageDataset(
    { images, labels, channels: 3, height: 32, width: 32, classes, mean: layout.mean, std: layout.std },
    layout.title,
  );
}
