import assert from "node:assert/strict";
import { tensor } from "../../src/gpu/kernel.ts";
import { submit } from "../../src/gpu/kernel.ts";
import { normalisationTable } from "../../src/data/batch_plan.ts";
import type { RgbImage } from "../../src/data/images.ts";
import { sampleSeed } from "../../src/data/random.ts";
import {
  resizedCropCoefficients,
  resizedCropForward,
  type ResizedCropGeometry,
  resizedCropRowsBytes,
  resizedCropTaps,
} from "../../src/data/resized_crop_op.ts";
import { randomResizedCropParams, resizedCrop, type ResizedCropParams } from "../../src/data/transforms.ts";
import { testGpu } from "../_gpu.ts";

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Smooth ramps with a checkerboard on top, different in every image and channel. */
function sourceImage(width: number, height: number, n: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const checker = ((x >> 1) + (y >> 1) + c) % 2 === 0 ? 60 : 0;
        data[(y * width + x) * 3 + c] = (x * 7 + y * (3 + c) + n * 31 + checker) % 256;
      }
    }
  }
  return { width, height, data };
}

/** The batch as the op takes it: CHW bytes, image after image. */
function chwBytes(images: readonly RgbImage[]): Uint8Array {
  const { width, height } = images[0];
  const plane = width * height;
  const out = new Uint8Array(images.length * 3 * plane);
  images.forEach((image, n) => {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) out[(n * 3 + c) * plane + i] = image.data[i * 3 + c];
    }
  });
  return out;
}

async function gpuResizedCrops(
  images: readonly RgbImage[],
  params: readonly ResizedCropParams[],
  size: number,
): Promise<Float32Array> {
  const gpu = await testGpu();
  const geometry: ResizedCropGeometry = {
    batch: images.length,
    height: images[0].height,
    width: images[0].width,
    size,
  };
  const table = resizedCropCoefficients(
    geometry,
    params.map((window, image) => ({ window, chunk: 0, image })),
  );
  const count = geometry.batch * 3 * size * size;
  const buffers = {
    source: gpu.upload("source images", chwBytes(images)),
    coefficients: gpu.upload("coefficients", table.words),
    rows: gpu.buffer("rows", resizedCropRowsBytes(geometry)),
    table: gpu.upload("table", normalisationTable(3, MEAN, STD)),
    output: gpu.buffer("images", count * 4),
  };
  const { output, source, ...inputs } = buffers;
  const images_ = tensor(output, [geometry.batch, 3, size, size]);
  submit(
    gpu,
    resizedCropForward(
      gpu,
      { ...geometry, taps: table.taps },
      { ...inputs, chunks: [source], images: images_ },
      "test",
    ),
  );
  const result = await gpu.readFloats(output, 0, count);
  for (const buffer of Object.values(buffers)) gpu.release(buffer);
  return result;
}

Deno.test("the GPU resized crop equals the CPU one: random windows, flips, enlarging and shrinking", async () => {
  const width = 28, height = 20, size = 10;
  const images = Array.from({ length: 6 }, (_, n) => sourceImage(width, height, n));
  const params: ResizedCropParams[] = [
    ...[0, 1, 2].map((position) =>
      randomResizedCropParams({ width, height }, { seed: sampleSeed(3, 0, position) })
    ),
    { top: 0, left: 0, height, width, flip: true },
    { top: 5, left: 9, height: size, width: size, flip: false },
    { top: 17, left: 25, height: 3, width: 3, flip: true },
  ];
  assert.ok(params.some((p) => p.flip) && params.some((p) => !p.flip));
  const actual = await gpuResizedCrops(images, params, size);
  const plane = 3 * size * size;
  let worst = 0;
  images.forEach((image, n) => {
    const expected = resizedCrop(image, params[n], { size, mean: MEAN, std: STD });
    for (let i = 0; i < plane; i++) worst = Math.max(worst, Math.abs(actual[n * plane + i] - expected[i]));
  });
  assert.ok(worst <= 1e-5, `the GPU differs from the CPU by up to ${worst}`);
});

Deno.test("the resized-crop table needs one window per sample, each inside its image", () => {
  const geometry = { batch: 1, height: 8, width: 8, size: 4 };
  const window = { top: 0, left: 0, height: 8, width: 8, flip: false };
  const sample = (w: ResizedCropParams) => ({ window: w, chunk: 0, image: 0 });
  assert.throws(() => resizedCropCoefficients(geometry, []), /0 samples for a batch of 1/);
  assert.throws(
    () => resizedCropCoefficients(geometry, [sample({ ...window, left: 1 })]),
    /sample 0: window 8x8 at \(1, 0\) leaves the 8x8 image/,
  );
  // Halving reads 4 source pixels for each output one (PIL's filter support doubles).
  assert.equal(resizedCropCoefficients(geometry, [sample(window)]).taps, 4);
  assert.equal(resizedCropTaps(geometry), 5);
  assert.throws(
    () => resizedCropCoefficients({ ...geometry, taps: 3 }, [sample(window)]),
    /a table of 3 taps is too narrow: a window needs 4/,
  );
});
