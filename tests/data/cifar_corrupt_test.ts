import assert from "node:assert/strict";
import { join } from "node:path";
import { readCifar } from "../../src/data/cifar_reader.ts";
import { archiveOf, cifarFixture, gzip, tarOf, withFile, writeFolder } from "./_cifar_fixture.ts";

const fixture = cifarFixture("cifar10", { trainPerFile: 5, test: 4 });
const fixture100 = cifarFixture("cifar100", { trainPerFile: 6, test: 3 });
const RECORD = 3073;

/** A copy of `bytes` with `value` at `offset`. */
function patched(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = value;
  return copy;
}

async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cifar_corrupt_" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `files` both as an archive and as a folder and expects both reads to fail with `pattern`. */
async function assertRefusedBoth(files: Map<string, Uint8Array>, pattern: RegExp): Promise<void> {
  await inTempDir(async (dir) => {
    const archive = join(dir, "cifar-10-binary.tar.gz");
    await Deno.writeFile(archive, await archiveOf("cifar10", files));
    await assert.rejects(readCifar(archive), (error: Error) => {
      assert.match(error.message, pattern);
      assert.ok(error.message.startsWith(archive), error.message);
      return true;
    });
    const folder = join(dir, "cifar-10-batches-bin");
    await writeFolder(folder, files);
    await assert.rejects(readCifar(folder), (error: Error) => {
      assert.match(error.message, pattern);
      assert.ok(error.message.startsWith(folder), error.message);
      return true;
    });
  });
}

Deno.test("a truncated gzip stream is refused naming the archive", async () => {
  await inTempDir(async (dir) => {
    const whole = await archiveOf("cifar10", fixture.files);
    const path = join(dir, "cifar-10-binary.tar.gz");
    for (const cut of [whole.length - 4, Math.floor(whole.length / 2), 12]) {
      await Deno.writeFile(path, whole.subarray(0, cut));
      await assert.rejects(readCifar(path), (error: Error) => {
        assert.match(error.message, /cifar-10-binary\.tar\.gz: truncated or corrupt gzip data/);
        return true;
      });
    }
  });
});

Deno.test("a truncated tar inside a valid gzip is refused naming the archive", async () => {
  await inTempDir(async (dir) => {
    const tar = await tarOf("cifar-10-batches-bin", fixture.files);
    const path = join(dir, "cifar-10-binary.tar.gz");
    for (const cut of [700, 512 * 3 + 100, tar.length - 4000]) {
      await Deno.writeFile(path, await gzip(tar.subarray(0, cut)));
      await assert.rejects(readCifar(path), /cifar-10-binary\.tar\.gz: truncated or corrupt tar data/);
    }
    // Cut exactly between two entries: the tar layer cannot tell, the missing files can.
    await Deno.writeFile(
      path,
      await gzip(tar.subarray(0, 512 * 2 + 5 * RECORD + (512 - (5 * RECORD) % 512))),
    );
    await assert.rejects(
      readCifar(path),
      /cifar-10-batches-bin\/data_batch_2\.bin is missing from the archive/,
    );
  });
});

Deno.test("a data file of the wrong size is refused naming it and the record size", async () => {
  const short = fixture.files.get("data_batch_2.bin")!.subarray(0, 5 * RECORD - 1);
  await assertRefusedBoth(
    withFile(fixture.files, "data_batch_2.bin", short),
    /data_batch_2\.bin: 15364 bytes is not a whole, non-zero number of CIFAR-10 records of 3073 bytes/,
  );
  await assertRefusedBoth(
    withFile(fixture.files, "test_batch.bin", new Uint8Array(0)),
    /test_batch\.bin: 0 bytes/,
  );
});

Deno.test("a label out of range is refused naming the file and the record", async () => {
  const bad = patched(fixture.files.get("data_batch_3.bin")!, 2 * RECORD, 12);
  await assertRefusedBoth(
    withFile(fixture.files, "data_batch_3.bin", bad),
    /data_batch_3\.bin: record 2 \(byte offset 6146\) has label 12, expected 0\.\.9 for CIFAR-10/,
  );
});

Deno.test("a missing test_batch.bin or class-name file is refused naming it", async () => {
  await assertRefusedBoth(withFile(fixture.files, "test_batch.bin", undefined), /test_batch\.bin is missing/);
  await assertRefusedBoth(
    withFile(fixture.files, "batches.meta.txt", undefined),
    /batches\.meta\.txt is missing/,
  );
  const nine = new TextEncoder().encode("a\nb\nc\nd\ne\nf\ng\nh\ni\n");
  await assertRefusedBoth(
    withFile(fixture.files, "batches.meta.txt", nine),
    /batches\.meta\.txt: holds 9 class names, expected 10/,
  );
});

Deno.test("a path that is neither an archive nor a folder is refused saying what was expected", async () => {
  await inTempDir(async (dir) => {
    await assert.rejects(
      readCifar(dir),
      new RegExp(
        `${dir}: is neither a CIFAR-10 archive nor a CIFAR-10 folder; expected the official ` +
          `cifar-10-binary\\.tar\\.gz, its extracted cifar-10-batches-bin/ folder`,
      ),
    );
    const text = join(dir, "notes.txt");
    await Deno.writeFile(text, new TextEncoder().encode("not an archive"));
    await assert.rejects(
      readCifar(text),
      /notes\.txt: is neither a gzip-compressed tar archive nor a tar archive/,
    );
    await assert.rejects(readCifar(join(dir, "absent")), /absent: does not exist; expected the official/);
  });
});

Deno.test("the other data set's release is refused with a hint", async () => {
  await inTempDir(async (dir) => {
    const archive = join(dir, "cifar-100-binary.tar.gz");
    await Deno.writeFile(archive, await archiveOf("cifar100", fixture100.files));
    await assert.rejects(readCifar(archive), /it is a CIFAR-100 archive: pass dataset "cifar100"/);
    await assert.rejects(readCifar(dir), /it holds CIFAR-100: pass dataset "cifar100"/);
  });
});

Deno.test("a CIFAR-100 coarse label out of range is refused even when fine labels are kept", async () => {
  await inTempDir(async (dir) => {
    const bad = patched(fixture100.files.get("train.bin")!, 4 * 3074, 25);
    await writeFolder(dir, withFile(fixture100.files, "train.bin", bad));
    await assert.rejects(
      readCifar(dir, { dataset: "cifar100" }),
      /train\.bin: record 4 \(byte offset 12296\) has coarse label 25, expected 0\.\.19 for CIFAR-100/,
    );
    await assert.rejects(
      readCifar(dir, { dataset: "cifar10", labels: "coarse" }),
      /CIFAR-10 has no coarse labels/,
    );
  });
});
