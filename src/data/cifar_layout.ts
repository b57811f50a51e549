/**
 * The layout of the official CIFAR-10 and CIFAR-100 binary releases: archive and folder names, files per
 * split, record formats, checksums and the data sets' channel statistics.
 *
 * @module
 */

/** Which CIFAR data set. */
export type CifarName = "cifar10" | "cifar100";

/** Which CIFAR-100 label a record's class is read from. */
export type CifarLabelKind = "fine" | "coarse";

/** Bytes of one 32x32 RGB image: the R, G and B planes, each row-major. */
export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;

/** How one CIFAR release is laid out. */
export interface CifarLayout {
  /** `"CIFAR-10"` or `"CIFAR-100"`, for messages. */
  title: string;
  /** File name of the official archive. */
  archive: string;
  /** Canonical download address. */
  url: string;
  /** Published MD5 of the archive (torchvision's). */
  md5: string;
  /** The folder the archive unpacks to. */
  folder: string;
  /** Files of the training split, in the order their records are concatenated. */
  trainFiles: readonly string[];
  /** Files of the test split. */
  testFiles: readonly string[];
  /** Label bytes before each image: `["label"]` or `["coarse", "fine"]`. */
  labelBytes: readonly string[];
  /** File holding the class names of each label kind, one per line. */
  classFiles: Readonly<Record<string, string>>;
  /** Number of classes of each label kind. */
  classCounts: Readonly<Record<string, number>>;
  /** Records of the full training split. */
  trainCount: number;
  /** Records of the full test split. */
  testCount: number;
  /** Per-channel mean of the training images scaled to [0, 1]. */
  mean: readonly [number, number, number];
  /** Per-channel standard deviation of the training images scaled to [0, 1]. */
  std: readonly [number, number, number];
}

/** The releases this module reads. */
export const CIFAR_LAYOUTS: Readonly<Record<CifarName, CifarLayout>> = {
  cifar10: {
    title: "CIFAR-10",
    archive: "cifar-10-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    folder: "cifar-10-batches-bin",
    trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    testFiles: ["test_batch.bin"],
    labelBytes: ["label"],
    classFiles: { label: "batches.meta.txt" },
    classCounts: { label: 10 },
    trainCount: 50_000,
    testCount: 10_000,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2470, 0.2435, 0.2616],
  },
  cifar100: {
    title: "CIFAR-100",
    archive: "cifar-100-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    folder: "cifar-100-binary",
    trainFiles: ["train.bin"],
    testFiles: ["test.bin"],
    labelBytes: ["coarse", "fine"],
    classFiles: { coarse: "coarse_label_names.txt", fine: "fine_label_names.txt" },
    classCounts: { coarse: 20, fine: 100 },
    trainCount: 50_000,
    testCount: 10_000,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
  },
};

/** Every file a release must hold: the data files, then the class-name files. */
export function requiredFiles(layout: CifarLayout): string[] {
  return [...layout.trainFiles, ...layout.testFiles, ...Object.values(layout.classFiles)];
}

/** Bytes of one record: the label bytes, then the image. */
export function recordBytes(layout: CifarLayout): number {
  return layout.labelBytes.length + CIFAR_IMAGE_BYTES;
}
