import assert from "node:assert/strict";
import { join } from "node:path";
import {
  atomicWriter,
  finishAtomicWrites,
  removeStaleTemporaries,
  writeFileAtomic,
  writeFileAtomicAsync,
  writeFilesAtomicAsync,
} from "../../src/io/atomic.ts";

async function inTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writeFileAtomic creates and replaces a file, leaving no temporary file", () =>
  inTempDir((dir) => {
    const path = `${dir}/checkpoint.bin`;
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(Deno.readFileSync(path), new Uint8Array([1, 2, 3]));
    writeFileAtomic(path, "replaced");
    assert.equal(Deno.readTextFileSync(path), "replaced");
    writeFileAtomic(path, new Uint8Array(0));
    assert.equal(Deno.statSync(path).size, 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["checkpoint.bin"]);
  }));

Deno.test("writeFileAtomicAsync writes large contents whole", () =>
  inTempDir(async (dir) => {
    const path = `${dir}/big.bin`;
    const bytes = new Uint8Array(5_000_000).map((_, i) => i * 7);
    await writeFileAtomicAsync(path, bytes);
    assert.deepEqual(await Deno.readFile(path), bytes);
    await writeFileAtomicAsync(path, "{}");
    assert.equal(await Deno.readTextFile(path), "{}");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["big.bin"]);
  }));

Deno.test("a failed write names the path and keeps the old file", () =>
  inTempDir(async (dir) => {
    assert.throws(
      () => writeFileAtomic(`${dir}/no/such/dir/x.bin`, "x"),
      /cannot write .*no\/such\/dir\/x\.bin/,
    );
    await assert.rejects(writeFileAtomicAsync(`${dir}/no/such/dir/x.bin`, "x"), /cannot write .*x\.bin/);
    // Renaming a file over a non-empty directory fails: the old contents stay and the temporary file goes.
    const path = `${dir}/occupied`;
    Deno.mkdirSync(`${path}/inner`, { recursive: true });
    assert.throws(() => writeFileAtomic(path, "x"), /cannot replace .*occupied/);
    await assert.rejects(writeFileAtomicAsync(path, "x"), /cannot replace .*occupied/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["occupied"]);
  }));

Deno.test("writeFilesAtomicAsync replaces a set of files and leaves neither journal nor temporaries", () =>
  inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a`, "old a");
    await writeFilesAtomicAsync(
      [[`${dir}/a`, "new a"], [`${dir}/b`, new Uint8Array([1, 2])]],
      `${dir}/j.json`,
    );
    assert.equal(await Deno.readTextFile(`${dir}/a`), "new a");
    assert.deepEqual(await Deno.readFile(`${dir}/b`), new Uint8Array([1, 2]));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a", "b"]);
    // A file that cannot be written leaves every target as it was.
    await assert.rejects(
      writeFilesAtomicAsync([[`${dir}/a`, "newer a"], [`${dir}/missing/c`, "c"]], `${dir}/j.json`),
      /cannot write .*missing\/c/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/a`), "new a");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a", "b"]);
  }));

Deno.test("finishAtomicWrites completes the renames a crash interrupted, once the journal exists", () =>
  inTempDir(async (dir) => {
    // As a process killed after its first rename leaves it: a renamed, b still under its temporary name.
    await Deno.writeTextFile(`${dir}/a`, "new a");
    await Deno.writeTextFile(`${dir}/b`, "old b");
    await Deno.writeTextFile(`${dir}/b.1.x.part`, "new b");
    const renames = [[`${dir}/a.1.w.part`, `${dir}/a`], [`${dir}/b.1.x.part`, `${dir}/b`]];
    await Deno.writeTextFile(`${dir}/j.json`, JSON.stringify(renames));
    assert.deepEqual(await finishAtomicWrites(`${dir}/j.json`), [`${dir}/b`]);
    assert.equal(await Deno.readTextFile(`${dir}/b`), "new b");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a", "b"]);
    assert.deepEqual(await finishAtomicWrites(`${dir}/j.json`), [], "nothing left to do");
    await Deno.writeTextFile(`${dir}/j.json`, "{");
    await assert.rejects(finishAtomicWrites(`${dir}/j.json`), /j\.json: not a journal of renames/);
  }));

Deno.test("removeStaleTemporaries removes other processes' temporaries only", () =>
  inTempDir(async (dir) => {
    for (
      const name of ["last.json.123.abc.part", `last.json.${Deno.pid}.def.part`, "keep.part", "last.json"]
    ) {
      await Deno.writeTextFile(`${dir}/${name}`, "");
    }
    assert.deepEqual(await removeStaleTemporaries(dir), ["last.json.123.abc.part"]);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["keep.part", "last.json", `last.json.${Deno.pid}.def.part`],
    );
    assert.deepEqual(await removeStaleTemporaries(`${dir}/absent`), []);
  }));

Deno.test("atomicWriter shows the target only complete, at commit; abort leaves the old file and no temporary", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "images.bin");
  await Deno.writeFile(path, new Uint8Array([9]));
  const writer = atomicWriter(path);
  writer.write(new Uint8Array([1, 2]));
  writer.write(new Uint8Array([3]));
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([9]));
  writer.commit();
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  assert.throws(() => writer.write(new Uint8Array(1)), /cannot write .*images\.bin: the writer is closed/);
  const aborted = atomicWriter(path);
  aborted.write(new Uint8Array([4]));
  aborted.abort();
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["images.bin"]);
  assert.throws(() => atomicWriter(join(dir, "missing", "x.bin")), /cannot write .*missing\/x\.bin/);
  await Deno.remove(dir, { recursive: true });
});
