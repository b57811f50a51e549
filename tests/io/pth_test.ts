import assert from "node:assert/strict";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { decodePth, loadPth } from "../../src/io/pth.ts";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { jsonFloat, loadIoFixtures, loadResnet20Fixture } from "../_fixtures.ts";
import { deterministicStateDict } from "../_weights.ts";

Deno.test("a torch.save'd dict of every dtype, views, scalars and parameters loads as PyTorch sees it", async () => {
  const io = await loadIoFixtures();
  const dict = await loadPth(io.dtypesPth);
  assert.deepEqual([...dict.keys()], Object.keys(io.dtypesExpected));
  for (const [name, expected] of Object.entries(io.dtypesExpected)) {
    const tensor = dict.get(name)!;
    assert.deepEqual(tensor.shape, expected.shape, name);
    assert.equal(tensor.dtype, expected.dtype, name);
    const values = tensor.data instanceof BigInt64Array
      ? expected.values.map((v) => BigInt(v))
      : expected.values.map(jsonFloat);
    assert.deepEqual([...tensor.data], values, name);
  }
});

Deno.test("ResNet-20's .pth, its safetensors copy and the generator agree exactly", async () => {
  const fixture = await loadResnet20Fixture();
  const fromPth = await loadPth(fixture.pth);
  const { tensors: fromSafetensors } = await loadSafetensors(fixture.safetensors);
  const expected = deterministicStateDict(fixture.stateDict, fixture.weightSeed);
  assert.deepEqual([...fromPth.keys()], fixture.stateDict.map(([name]) => name));
  assert.deepEqual(fromPth, expected);
  assert.deepEqual(new Map([...fromSafetensors].sort()), new Map([...fromPth].sort()));
});

Deno.test('a checkpoint wrapping its state dict under "state_dict" is unwrapped', async () => {
  const dict = await loadPth((await loadIoFixtures()).wrappedPth);
  assert.deepEqual(dict.get("fc.weight"), {
    shape: [2, 2],
    dtype: "F32",
    data: new Float32Array([1, 1, 1, 1]),
  });
  assert.deepEqual([...dict.keys()], ["fc.weight", "fc.bias"]);
});

Deno.test("a pickled module (not a state dict) gets an error that says how to save one", async () => {
  const { modulePth } = await loadIoFixtures();
  await assert.rejects(
    loadPth(modulePth),
    /module\.pth: the pickle holds a Linear object rather than a state dict; .*model\.state_dict\(\)/,
  );
});

Deno.test("the legacy (pre-1.6) format gets a clear error", async () => {
  const { legacyPth } = await loadIoFixtures();
  await assert.rejects(
    loadPth(legacyPth),
    /legacy\.pth: this is PyTorch's legacy \(pre-1\.6\) checkpoint format/,
  );
});

Deno.test("files that are not zip archives, or are cut short, get errors naming the file", async () => {
  assert.throws(
    () => decodePth(new TextEncoder().encode("hello"), "x.pth"),
    /^Error: x\.pth: not a PyTorch checkpoint/,
  );
  const bytes = await Deno.readFile((await loadResnet20Fixture()).pth);
  assert.throws(
    () => decodePth(bytes.subarray(0, bytes.length - 30), "cut.pth"),
    /^Error: cut\.pth: corrupt zip archive/,
  );
  assert.throws(() => decodePth(bytes.subarray(0, 4000), "cut.pth"), /^Error: cut\.pth: corrupt zip archive/);
  await assert.rejects(loadPth("/nonexistent/model.pth"), /cannot read \/nonexistent\/model\.pth/);
});

/** The archive of `source` with `edit` applied to its entries (names without the top folder). */
function rezip(source: Uint8Array, edit: (files: Record<string, Uint8Array>) => void): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(unzipSync(source))) {
    files[name.slice(name.indexOf("/") + 1)] = data;
  }
  edit(files);
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, data]) => [`archive/${name}`, data])));
}

Deno.test("missing or short storages and a broken pickle are reported with the file name", async () => {
  const source = await Deno.readFile((await loadIoFixtures()).dtypesPth);
  assert.equal(decodePth(rezip(source, () => {})).size, 14, 'a re-zipped archive (folder "archive/") loads');
  assert.throws(
    () => decodePth(rezip(source, (files) => delete files["data/0"]), "m.pth"),
    /^Error: m\.pth: cannot read archive\/data\.pkl: storage "0" is missing from the archive/,
  );
  assert.throws(
    () => decodePth(rezip(source, (files) => files["data/0"] = files["data/0"].subarray(0, 8)), "m.pth"),
    /m\.pth: .*storage "0" has 8 bytes, expected 256 \(truncated archive\?\)/,
  );
  assert.throws(
    () =>
      decodePth(rezip(source, (files) => files["data.pkl"] = files["data.pkl"].subarray(0, 100)), "m.pth"),
    /^Error: m\.pth: cannot read archive\/data\.pkl: /,
  );
  const pickle = (edit: (text: string) => string) => (files: Record<string, Uint8Array>) => {
    // Latin-1 round trip: every byte maps to one char, so binary opcodes survive the text edit.
    const text = Array.from(files["data.pkl"], (b) => String.fromCharCode(b)).join("");
    files["data.pkl"] = Uint8Array.from(edit(text), (c) => c.charCodeAt(0));
  };
  assert.throws(
    () =>
      decodePth(
        rezip(source, pickle((t) => t.replace("torch\nFloatStorage\n", "torch\nDoubleStorage\n"))),
        "m.pth",
      ),
    /^Error: m\.pth: tensor "f32" is stored as torch\.DoubleStorage, which is not supported/,
  );
  assert.throws(
    () =>
      decodePth(rezip(source, pickle((t) => t.replace("_rebuild_tensor_v2", "_rebuild_qtensor"))), "m.pth"),
    /^Error: m\.pth: entry "f32" of the pickled dict is not a tensor/,
  );
  assert.throws(
    () => decodePth(rezip(source, (files) => delete files["data.pkl"]), "m.pth"),
    /m\.pth: expected one <name>\/data\.pkl in the archive, found 0/,
  );
  assert.throws(
    () => decodePth(rezip(source, (files) => files["byteorder"] = new TextEncoder().encode("big")), "m.pth"),
    /m\.pth: big-endian checkpoints are not supported/,
  );
});

Deno.test("a malicious pickle is refused without running anything it names", async () => {
  const marker = join(await Deno.makeTempDir(), "pwned");
  const command = `touch ${marker}`;
  const text = (s: string) => [...new TextEncoder().encode(s)];
  // protocol 2: GLOBAL posix.system, BINUNICODE command, TUPLE1, REDUCE, STOP: os.system(command) in Python.
  const length = [command.length & 0xff, command.length >> 8, 0, 0];
  const pickle = new Uint8Array([
    0x80,
    2,
    ...text("cposix\nsystem\n"),
    0x58,
    ...length,
    ...text(command),
    0x85,
    0x52,
    0x2e,
  ]);
  const archive = zipSync({ "archive/data.pkl": pickle }, { level: 0 });
  assert.throws(
    () => decodePth(archive, "evil.pth"),
    /^Error: evil\.pth: the pickle holds .* rather than a state dict/,
  );
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false, "nothing ran");
});

Deno.test("a zip directory that claims more entries than the file holds is refused at once", async () => {
  const bytes = (await Deno.readFile(new URL("../fixtures/io/dtypes.pth", import.meta.url))).slice();
  const view = new DataView(bytes.buffer);
  let end = bytes.length - 22;
  while (view.getUint32(end, true) !== 0x06054b50) end--;
  // torch.save writes zip64, whose end record (located just before the plain one) holds the count.
  const zip64End = view.getUint32(end - 12, true);
  assert.equal(view.getUint32(zip64End, true), 0x06064b50, "a zip64 end of central directory");
  view.setUint32(zip64End + 32, 0xfffffff0, true);
  const start = performance.now();
  assert.throws(
    () => decodePth(bytes, "many.pth"),
    /many\.pth: corrupt zip archive \(its directory lists more entries than \d+ bytes can hold\)/,
  );
  assert.ok(performance.now() - start < 1000);
});
