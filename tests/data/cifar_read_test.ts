import assert from "node:assert/strict";
import { join } from "node:path";
import { readCifar } from "../../src/data/cifar_reader.ts";
import type { ImageDataset } from "../../src/data/dataset.ts";
import {
  archiveOf,
  CIFAR100_COARSE,
  CIFAR100_FINE,
  CIFAR10_CLASSES,
  cifarFixture,
  type FixtureRecord,
  tarOf,
  writeFolder,
} from "./_cifar_fixture.ts";

const small10 = cifarFixture("cifar10", { trainPerFile: 7, test: 9 });
const small100 = cifarFixture("cifar100", { trainPerFile: 23, test: 11 });

function assertRecords(
  data: ImageDataset<Uint8Array>,
  records: readonly FixtureRecord[],
  coarse = false,
): void {
  assert.equal(data.count, records.length);
  assert.deepEqual([data.channels, data.height, data.width], [3, 32, 32]);
  assert.equal(data.images.length, records.length * 3072);
  records.forEach((record, i) => {
    assert.equal(data.labels[i], coarse ? record.coarse : record.label, `label of record ${i}`);
    assert.deepEqual(data.images.subarray(i * 3072, (i + 1) * 3072), record.image, `image of record ${i}`);
  });
}

async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cifar_read_" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("CIFAR-10 is read from the official .tar.gz with every record, label and class name", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "cifar-10-binary.tar.gz");
    await Deno.writeFile(path, await archiveOf("cifar10", small10.files));
    const splits = await readCifar(path);
    assert.equal(splits.name, "cifar10");
    assert.equal(splits.source, path);
    assertRecords(splits.train, small10.train);
    assertRecords(splits.test, small10.test);
    assert.deepEqual(splits.train.classes, CIFAR10_CLASSES);
    assert.deepEqual(splits.test.classes, CIFAR10_CLASSES);
    assert.deepEqual(splits.train.mean, [0.4914, 0.4822, 0.4465]);
    assert.equal(splits.warnings.length, 2);
    assert.match(splits.warnings[0], /training split holds 35 records; the official release has 50,000/);
    assert.match(splits.warnings[1], /test split holds 9 records; the official release has 10,000/);
  });
});

Deno.test("CIFAR-10 is read from the extracted folder, a folder holding it, a folder holding the archive and a .tar", async () => {
  await inTempDir(async (dir) => {
    const folder = join(dir, "extracted", "cifar-10-batches-bin");
    await writeFolder(folder, small10.files);
    await Deno.mkdir(join(dir, "archived"));
    await Deno.writeFile(
      join(dir, "archived", "cifar-10-binary.tar.gz"),
      await archiveOf("cifar10", small10.files),
    );
    const plainTar = join(dir, "cifar-10-binary.tar");
    await Deno.writeFile(plainTar, await tarOf("cifar-10-batches-bin", small10.files));
    const cases = [
      [folder, folder],
      [join(dir, "extracted"), folder],
      [join(dir, "archived"), join(dir, "archived", "cifar-10-binary.tar.gz")],
      [plainTar, plainTar],
    ];
    for (const [path, source] of cases) {
      const splits = await readCifar(path);
      assert.equal(splits.source, source, path);
      assertRecords(splits.train, small10.train);
      assertRecords(splits.test, small10.test);
      assert.deepEqual(splits.test.classes, CIFAR10_CLASSES);
    }
  });
});

Deno.test("CIFAR-100 is read with fine labels by default and coarse ones on request", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "cifar-100-binary.tar.gz");
    await Deno.writeFile(path, await archiveOf("cifar100", small100.files));
    const folder = join(dir, "cifar-100-binary");
    await writeFolder(folder, small100.files);
    for (const source of [path, folder]) {
      const fine = await readCifar(source, { dataset: "cifar100" });
      assert.equal(fine.name, "cifar100");
      assertRecords(fine.train, small100.train);
      assertRecords(fine.test, small100.test);
      assert.deepEqual(fine.train.classes, CIFAR100_FINE);
      assert.deepEqual(fine.train.std, [0.2673, 0.2564, 0.2762]);
      const coarse = await readCifar(source, { dataset: "cifar100", labels: "coarse" });
      assertRecords(coarse.train, small100.train, true);
      assertRecords(coarse.test, small100.test, true);
      assert.deepEqual(coarse.test.classes, CIFAR100_COARSE);
    }
  });
});

Deno.test("a full-size archive in the official layout gives 50,000 + 10,000 records and no warnings", async () => {
  await inTempDir(async (dir) => {
    const full = cifarFixture("cifar10", { trainPerFile: 10_000, test: 10_000, constantImage: 17 });
    const path = join(dir, "cifar-10-binary.tar.gz");
    await Deno.writeFile(path, await archiveOf("cifar10", full.files));
    const splits = await readCifar(path);
    assert.equal(splits.train.count, 50_000);
    assert.equal(splits.test.count, 10_000);
    assert.deepEqual(splits.warnings, []);
    assert.deepEqual(splits.train.classes, CIFAR10_CLASSES);
    for (const i of [0, 9_999, 10_000, 31_234, 49_999]) {
      assert.equal(splits.train.labels[i], full.train[i].label);
    }
    assert.equal(splits.train.images[50_000 * 3072 - 1], 17);
  });
});
