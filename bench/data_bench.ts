/**
 * Input-pipeline benchmarks: reading and validating a full-size (50,000 + 10,000 records) CIFAR-10 release
 * generated in the official layout, and making batches of 128 on the GPU (and, for comparison, the CPU).
 *
 * Run with `deno bench -A bench/data_bench.ts`.
 */
import { join } from "node:path";
import { readCifar } from "../src/data/cifar_reader.ts";
import { cpuBatch } from "../src/data/cpu_batch.ts";
import { GpuBatcher } from "../src/data/gpu_batcher.ts";
import { Gpu } from "../src/gpu/device.ts";
import { submit } from "../src/gpu/kernel.ts";
import { archiveOf, cifarFixture, writeFolder } from "../tests/data/_cifar_fixture.ts";

const dir = await Deno.makeTempDir({ prefix: "data_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const release = cifarFixture("cifar10", { trainPerFile: 10_000, test: 10_000 });
const archive = join(dir, "cifar-10-binary.tar.gz");
await Deno.writeFile(archive, await archiveOf("cifar10", release.files));
const folder = join(dir, "cifar-10-batches-bin");
await writeFolder(folder, release.files);
release.files.clear();

Deno.bench(
  "read + validate CIFAR-10 .tar.gz, 50,000 + 10,000 records",
  { group: "read", n: 3, warmup: 1 },
  async () => {
    await readCifar(archive);
  },
);

Deno.bench(
  "read + validate CIFAR-10 folder, 50,000 + 10,000 records",
  { group: "read", n: 3, warmup: 1 },
  async () => {
    await readCifar(folder);
  },
);

const { train } = await readCifar(folder);
const gpu = await Gpu.create();
const options = { batchSize: 128, shuffle: true, augment: { cutout: 16 }, seed: 1, dropLast: true };
const batcher = GpuBatcher.create(gpu, train, options);
let step = 0;

Deno.bench(
  `GPU batch of 128 (crop, flip, Cutout; ${batcher.dispatches.length} chunks), select + submit + wait`,
  {
    group: "batch",
    baseline: true,
  },
  async () => {
    batcher.select(0, step++ % batcher.batchesPerEpoch);
    submit(gpu, batcher.dispatches);
    await gpu.idle();
  },
);

Deno.bench(
  "10 GPU batches of 128 queued back to back, one wait (divide by 10)",
  { group: "batch" },
  async () => {
    for (let i = 0; i < 10; i++) {
      batcher.select(0, step++ % batcher.batchesPerEpoch);
      submit(gpu, batcher.dispatches);
    }
    await gpu.idle();
  },
);

Deno.bench("GPU select only (host side of a batch of 128)", { group: "batch" }, () => {
  batcher.select(1, step++ % batcher.batchesPerEpoch);
});

Deno.bench("CPU batch of 128 (cpuBatch, same batches)", { group: "batch", n: 20 }, () => {
  cpuBatch(train, options, 0, step++ % batcher.batchesPerEpoch);
});
