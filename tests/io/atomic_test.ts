import assert from "node:assert/strict";
import { writeFileAtomic, writeFileAtomicAsync } from "../../src/io/atomic.ts";

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
