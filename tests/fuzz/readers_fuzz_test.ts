/**
 * Fuzzing of every reader of outside files: seeded mutations (tests/fuzz/_mutate.ts) of a valid
 * safetensors file, PyTorch zip checkpoint, PNG, JPEG and CIFAR archive, 2,000 cases each. Each case must be
 * read or refused with the reader's own error naming the file, within a second: never a hang, a crash, an
 * allocation sized by a corrupt field, or a dependency's raw error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { decodePth } from "../../src/io/pth.ts";
import { decodeImage } from "../../src/data/images.ts";
import { readCifar } from "../../src/data/cifar_reader.ts";
import type { StateDict } from "../../src/io/state_dict.ts";
import { archiveOf, cifarFixture, tarOf } from "../data/_cifar_fixture.ts";
import { CIFAR_LAYOUTS } from "../../src/data/cifar_layout.ts";
import { fuzz } from "./_mutate.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const SOURCE = "fuzzed.bin";

function report(name: string, result: { refused: number; accepted: number }): void {
  console.log(`${name}: ${result.refused} refused, ${result.accepted} read`);
}

Deno.test("fuzz: the safetensors reader refuses every corruption by name", async () => {
  const dict: StateDict = new Map([
    ["conv.weight", { shape: [2, 3, 3, 3], dtype: "F32" as const, data: new Float32Array(54).fill(0.5) }],
    ["bn.num_batches_tracked", { shape: [], dtype: "I64" as const, data: new BigInt64Array([7n]) }],
  ]);
  const bytes = encodeSafetensors(dict, { metadata: { model: "resnet20" } });
  const result = await fuzz(bytes, SOURCE, (b) => decodeSafetensors(b, SOURCE), { fields: [0, 4] });
  report("safetensors", result);
  assert.ok(result.refused > 1000);
});

Deno.test("fuzz: the .pth reader refuses every corruption by name", async () => {
  const bytes = await Deno.readFile(new URL("io/dtypes.pth", FIXTURES));
  const result = await fuzz(bytes, SOURCE, (b) => decodePth(b, SOURCE));
  report("pth", result);
  assert.ok(result.refused > 1000);
});

for (const file of ["rgb.png", "palette.png", "plain.jpg", "orientation6.jpg"]) {
  Deno.test(`fuzz: the image decoder refuses every corruption of ${file} by name`, async () => {
    const bytes = await Deno.readFile(new URL(`images/${file}`, FIXTURES));
    const result = await fuzz(bytes, SOURCE, (b) => decodeImage(b, SOURCE));
    report(file, result);
    assert.ok(result.refused > 100);
  });
}

const cifar = cifarFixture("cifar10", { trainPerFile: 2, test: 2 }).files;

for (
  const [kind, file, archive] of [
    ["gzip-compressed", "cifar-10-binary.tar.gz", () => archiveOf("cifar10", cifar)],
    // Uncompressed, so that mutations reach the tar headers and records past gzip's checksum.
    ["tar", "cifar-10-binary.tar", () => tarOf(CIFAR_LAYOUTS.cifar10.folder, cifar)],
  ] as const
) {
  Deno.test(`fuzz: the CIFAR reader refuses every corruption of a ${kind} archive by name`, async () => {
    const bytes = await archive();
    const dir = await Deno.makeTempDir({ prefix: "cifar_fuzz_" });
    const path = join(dir, file);
    try {
      const result = await fuzz(bytes, path, async (b) => {
        await Deno.writeFile(path, b);
        await readCifar(path);
      }, { fields: [124, 148] });
      report(file, result);
      assert.ok(result.refused > 1000);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
