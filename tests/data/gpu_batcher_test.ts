import assert from "node:assert/strict";
import { submit } from "../../src/gpu/kernel.ts";
import type { BatchOptions } from "../../src/data/batch_plan.ts";
import { cpuBatch } from "../../src/data/cpu_batch.ts";
import { PADDING_LABEL } from "../../src/ops/cross_entropy.ts";
import type { ImageDataset, StoredImages } from "../../src/data/dataset.ts";
import { GpuBatcher, type GpuDataOptions } from "../../src/data/gpu_batcher.ts";
import { testGpu } from "../_gpu.ts";
import { ownSizeDataset, randomDataset } from "./_datasets.ts";

/** Runs every batch of `epochs` on the GPU and requires it to equal the CPU batch bit for bit. */
async function assertGpuEqualsCpu(
  data: ImageDataset,
  options: BatchOptions,
  epochs: number[],
  storage: GpuDataOptions = {},
): Promise<GpuBatcher> {
  const gpu = await testGpu();
  const batcher = GpuBatcher.create(gpu, data, options, storage);
  for (const epoch of epochs) {
    for (let batch = 0; batch < batcher.batchesPerEpoch; batch++) {
      const expected = cpuBatch(data, options, epoch, batch);
      const count = batcher.select(epoch, batch);
      submit(gpu, batcher.dispatches);
      const images = new Uint32Array(
        (await gpu.readFloats(batcher.images.buffer, 0, expected.images.length)).buffer,
      );
      const labels = new Uint32Array(await gpu.read(batcher.labels.buffer, 0, options.batchSize * 4));
      const where = `epoch ${epoch} batch ${batch}`;
      assert.equal(count, expected.count, where);
      assert.deepEqual(labels, expected.labels, `labels of ${where}`);
      const bits = new Uint32Array(expected.images.buffer);
      assert.equal(images.length, bits.length);
      for (let i = 0; i < bits.length; i++) {
        if (images[i] !== bits[i]) {
          assert.fail(`${where}: element ${i} is ${images[i]}, expected ${bits[i]} (bits)`);
        }
      }
    }
  }
  return batcher;
}

const cifarShape = { channels: 3, height: 32, width: 32 };

Deno.test("GPU training batches equal the CPU ones bit for bit: crop, flip, shuffle, short last batch", async () => {
  const data = randomDataset(21, cifarShape, 11, 10);
  const options = { batchSize: 8, shuffle: true, augment: true, seed: 5, dropLast: false };
  const batcher = await assertGpuEqualsCpu(data, options, [0, 1]);
  assert.equal(batcher.batchesPerEpoch, 3);
  assert.deepEqual(batcher.images.shape, [8, 3, 32, 32]);
  assert.equal(batcher.dispatches.length, 1);
  batcher.destroy();
});

Deno.test("GPU batches from a data set split over many chunks equal the CPU ones: reflect padding and Cutout", async () => {
  const data = randomDataset(21, cifarShape, 12, 10);
  const options: BatchOptions = {
    batchSize: 8,
    shuffle: true,
    augment: { padding: 4, paddingMode: "reflect", cutout: 8 },
    seed: 6,
    dropLast: true,
  };
  const batcher = await assertGpuEqualsCpu(data, options, [3], { maxChunkBytes: 3 * 3072, label: "train" });
  assert.equal(batcher.batchesPerEpoch, 2);
  assert.equal(batcher.dispatches.length, 7);
  assert.match(batcher.dispatches[6].label, /^train: gather, augment and normalise \(chunk 7 of 7\)$/);
  batcher.destroy();
});

Deno.test("GPU batches of images whose size is not a multiple of 4 bytes equal the CPU ones", async () => {
  const stats = { mean: [0.3], std: [0.2] };
  const data = randomDataset(9, { channels: 1, height: 5, width: 7 }, 13, 3, stats);
  const options: BatchOptions = {
    batchSize: 4,
    shuffle: true,
    augment: { padding: 2, paddingMode: "reflect", cutout: 3 },
    seed: 7,
    dropLast: false,
  };
  const batcher = await assertGpuEqualsCpu(data, options, [0, 2], { maxChunkBytes: 100 });
  assert.equal(batcher.dispatches.length, 5);
  batcher.destroy();
});

Deno.test("GPU evaluation batches (no shuffle, no augmentation) equal the CPU ones and pad the last batch", async () => {
  const gpu = await testGpu();
  const data = randomDataset(10, cifarShape, 14, 10);
  const options = { batchSize: 4, shuffle: false, augment: false, seed: 0, dropLast: false };
  const before = gpu.bytesAllocated;
  const batcher = await assertGpuEqualsCpu(data, options, [0]);
  assert.equal(batcher.select(0, 2), 2);
  submit(gpu, batcher.dispatches);
  const labels = new Uint32Array(await gpu.read(batcher.labels.buffer, 0, 16));
  assert.deepEqual([...labels], [8, 9, PADDING_LABEL, PADDING_LABEL]);
  assert.ok((await gpu.readFloats(batcher.images.buffer, 2 * 3072, 2 * 3072)).every((v) => v === 0));
  batcher.destroy();
  // Everything but the dispatch's small uniform buffer (owned by kernel()) is released.
  assert.ok(gpu.bytesAllocated - before < 256, `${gpu.bytesAllocated - before} bytes still allocated`);
});

Deno.test("select refuses batches outside the epoch", async () => {
  const gpu = await testGpu();
  const batcher = GpuBatcher.create(gpu, randomDataset(5, cifarShape, 15, 10), {
    batchSize: 2,
    shuffle: true,
    augment: true,
    seed: 1,
    dropLast: true,
  });
  assert.throws(() => batcher.select(0, 2), /batch must be an integer in 0\.\.1, got 2/);
  assert.throws(() => batcher.select(0.5, 0), /epoch must be an integer/);
  batcher.destroy();
});

Deno.test("GPU RandomResizedCrop batches equal the CPU ones bit for bit: flips, Cutout, many chunks, short batch", async () => {
  const data = randomDataset(11, { channels: 3, height: 20, width: 20 }, 16, 4);
  const options: BatchOptions = {
    batchSize: 4,
    shuffle: true,
    augment: { crop: "resized", cutout: 4 },
    seed: 8,
    dropLast: false,
    size: 12,
  };
  const batcher = await assertGpuEqualsCpu(data, options, [0, 1], {
    maxChunkBytes: 4 * 1200,
    label: "train",
  });
  assert.deepEqual(batcher.images.shape, [4, 3, 12, 12]);
  // One horizontal pass per chunk (4 images per chunk: 3 chunks), then the vertical pass.
  assert.equal(batcher.dispatches.length, 4);
  assert.match(batcher.dispatches[3].label, /^train: resize, augment and normalise \(rows\)$/);
  batcher.destroy();
});

Deno.test("GPU batches of a larger working image: random crops and centre crops of it equal the CPU ones", async () => {
  const data = randomDataset(6, { channels: 3, height: 14, width: 14 }, 17, 3);
  for (const augment of [{ crop: "random" as const }, false]) {
    const options: BatchOptions = { batchSize: 3, shuffle: true, augment, seed: 9, dropLast: true, size: 10 };
    const batcher = await assertGpuEqualsCpu(data, options, [0, 1]);
    assert.deepEqual(batcher.images.shape, [3, 3, 10, 10]);
    batcher.destroy();
  }
});

Deno.test("GPU evaluation batches of smaller images resize them whole (CIFAR upscaled) as the CPU does", async () => {
  const data = randomDataset(5, cifarShape, 18, 10);
  const options: BatchOptions = {
    batchSize: 2,
    shuffle: false,
    augment: false,
    seed: 0,
    dropLast: false,
    size: 40,
  };
  const batcher = await assertGpuEqualsCpu(data, options, [0]);
  assert.deepEqual(batcher.images.shape, [2, 3, 40, 40]);
  batcher.destroy();
});

Deno.test("GPU batches of images of their own sizes (aspect ratio kept) equal the CPU ones: every crop, chunks, streamed", async () => {
  const data = ownSizeDataset(9, { shorter: 14, longest: 18 }, 20, 3);
  assert.ok(new Set(data.sizes).size > 2, "sizes differ");
  const cases: BatchOptions["augment"][] = [
    { crop: "random", cutout: 3 },
    { crop: "random", padding: 2, paddingMode: "reflect" },
    false,
    { crop: "resized", cutout: 4 },
  ];
  for (const augment of cases) {
    const options: BatchOptions = {
      batchSize: 4,
      shuffle: true,
      augment,
      seed: 11,
      dropLast: false,
      size: 10,
    };
    for (const storage of [{ maxChunkBytes: 3 * data.slotBytes! }, { maxResidentBytes: 1000 }]) {
      const batcher = await assertGpuEqualsCpu(data, options, [0, 1], storage);
      assert.deepEqual(batcher.images.shape, [4, 3, 10, 10]);
      batcher.destroy();
    }
  }
});

/** The data set's bytes behind the stored-images interface, counting the bytes read. */
function stored(data: ImageDataset): { data: ImageDataset; read: () => number } {
  const bytes = data.images as Uint8Array;
  let read = 0;
  const store = (begin: number, end: number): StoredImages => ({
    length: end - begin,
    source: "test store",
    fingerprint: "test",
    read: (from, to) => {
      read += to - from;
      return bytes.slice(begin + from, begin + to);
    },
    slice: (from, to) => store(begin + from, begin + to),
  });
  return { data: { ...data, images: store(0, bytes.length) }, read: () => read };
}

Deno.test("streamed batches (a data set over the resident limit, in memory or stored) equal the CPU ones", async () => {
  const data = randomDataset(11, { channels: 3, height: 20, width: 20 }, 19, 4);
  const cases: [BatchOptions["augment"], number][] = [[true, 20], [{ crop: "resized", cutout: 4 }, 12]];
  for (const [augment, size] of cases) {
    const options: BatchOptions = { batchSize: 4, shuffle: true, augment, seed: 10, dropLast: false, size };
    const inMemory = await assertGpuEqualsCpu(data, options, [0, 1], { maxResidentBytes: 1000 });
    assert.ok(inMemory.streamed);
    assert.equal(inMemory.dispatches.length, size === 20 ? 1 : 2);
    inMemory.destroy();
    const store = stored(data);
    const fromStore = await assertGpuEqualsCpu(store.data, options, [0], { maxResidentBytes: 1000 });
    // Each batch reads only its own images (the CPU reference reads them once more).
    assert.equal(store.read(), 2 * 11 * 1200);
    fromStore.destroy();
  }
  const resident = GpuBatcher.create(await testGpu(), stored(data).data, {
    batchSize: 4,
    shuffle: false,
    augment: false,
    seed: 0,
    dropLast: false,
  });
  assert.equal(resident.streamed, false);
  resident.destroy();
});
