import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import {
  centreCrop,
  decodeImage,
  imageFormat,
  prepareImage,
  readImage,
  resizeImage,
  type RgbImage,
} from "../../src/data/images.ts";

/** RGBA pixels where pixel (x, y) is (10x, 20y, 7, 255). */
function gradientRgba(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set([10 * x, 20 * y, 7, 255], (y * width + x) * 4);
  }
  return rgba;
}

function encodePng(
  width: number,
  height: number,
  rgba: Uint8Array,
  options: Record<string, unknown> = {},
): Uint8Array {
  const png = new PNG({ width, height, ...options });
  png.data = Buffer.from(rgba);
  return new Uint8Array(PNG.sync.write(png, options));
}

Deno.test("a PNG decodes to its exact RGB pixels, alpha dropped", () => {
  const bytes = encodePng(5, 3, gradientRgba(5, 3));
  assert.equal(imageFormat(bytes), "png");
  const image = decodeImage(bytes, "g.png");
  assert.equal(image.width, 5);
  assert.equal(image.height, 3);
  assert.deepEqual([...image.data.subarray((2 * 5 + 4) * 3, (2 * 5 + 4) * 3 + 3)], [40, 40, 7]);
});

Deno.test("a greyscale PNG decodes to equal R, G and B", () => {
  const rgba = new Uint8Array(4 * 4 * 4);
  for (let i = 0; i < 16; i++) rgba.set([i * 16, i * 16, i * 16, 255], i * 4);
  const image = decodeImage(encodePng(4, 4, rgba, { colorType: 0 }), "grey.png");
  assert.deepEqual([...image.data.subarray(5 * 3, 5 * 3 + 3)], [80, 80, 80]);
});

Deno.test("a JPEG decodes to its pixels within JPEG's loss", () => {
  const rgba = new Uint8Array(16 * 16 * 4);
  for (let i = 0; i < 256; i++) rgba.set([200, 100, 50, 255], i * 4);
  const bytes = new Uint8Array(jpeg.encode({ data: rgba, width: 16, height: 16 }, 95).data);
  assert.equal(imageFormat(bytes), "jpeg");
  const image = decodeImage(bytes, "flat.jpg");
  assert.equal(image.width, 16);
  for (let i = 0; i < image.data.length; i += 3) {
    assert.ok(
      Math.abs(image.data[i] - 200) <= 3 && Math.abs(image.data[i + 1] - 100) <= 3 &&
        Math.abs(image.data[i + 2] - 50) <= 3,
    );
  }
});

Deno.test("corrupt, truncated and foreign files give errors naming the file", async () => {
  const png = encodePng(8, 8, gradientRgba(8, 8));
  assert.throws(() => decodeImage(png.subarray(0, 40), "cut.png"), /cut\.png: corrupt or truncated PNG data/);
  assert.throws(
    () => decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]), "bad.jpg"),
    /bad\.jpg: corrupt or truncated JPEG data/,
  );
  assert.throws(
    () => decodeImage(new TextEncoder().encode("hello"), "notes.txt"),
    /notes\.txt: not a PNG or JPEG image/,
  );
  await assert.rejects(readImage("/nonexistent/cat.png"), /cannot read \/nonexistent\/cat\.png/);
});

Deno.test("resizing keeps a flat image flat and averages when shrinking", () => {
  const flat: RgbImage = { width: 7, height: 5, data: new Uint8Array(7 * 5 * 3).fill(77) };
  assert.ok(resizeImage(flat, 3, 11).data.every((v) => v === 77));
  // Columns alternate 0 and 200: halving the width averages them to 100 away from the borders (where the
  // filter is cut off and renormalised, as in PIL).
  const stripes: RgbImage = { width: 8, height: 1, data: new Uint8Array(8 * 3) };
  for (let x = 0; x < 8; x += 2) stripes.data.fill(200, x * 3, x * 3 + 3);
  const half = resizeImage(stripes, 4, 1);
  assert.deepEqual([...half.data.subarray(3, 9)], [100, 100, 100, 100, 100, 100]);
  assert.throws(() => resizeImage(flat, 0, 3), /resize width must be a positive integer/);
});

Deno.test("the centre crop takes torchvision's window", () => {
  const image = decodeImage(encodePng(6, 4, gradientRgba(6, 4)));
  const crop = centreCrop(image, 3, 2);
  // left = round(1.5) = 2, top = round(1) = 1.
  assert.deepEqual([...crop.data.subarray(0, 3)], [20, 20, 7]);
  assert.throws(() => centreCrop(image, 7, 2), /cannot crop 7x2 out of a 6x4 image/);
});

Deno.test("prepareImage resizes the shorter side, crops and normalises to CHW", () => {
  const image: RgbImage = { width: 64, height: 32, data: new Uint8Array(64 * 32 * 3) };
  for (let i = 0; i < 64 * 32; i++) image.data.set([255, 0, 51], i * 3);
  const mean = [0.5, 0.25, 0.2], std = [0.5, 0.25, 0.1];
  const input = prepareImage(image, { size: 16, mean, std });
  assert.equal(input.length, 3 * 16 * 16);
  assert.ok(input.subarray(0, 256).every((v) => Math.abs(v - 1) < 1e-6));
  assert.ok(input.subarray(256, 512).every((v) => Math.abs(v + 1) < 1e-6));
  assert.ok(input.subarray(512).every((v) => Math.abs(v - 0) < 1e-6));
  assert.throws(
    () => prepareImage(image, { size: 16, resize: 8, mean, std }),
    /resize must be an integer of at least size 16/,
  );
});
