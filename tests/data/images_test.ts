import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { decodeImage, imageFormat, readImage, type RgbImage } from "../../src/data/images.ts";
import { centreCrop, centreWindow, cropImage, resizeImage } from "../../src/data/pixels.ts";
import { ImageDecodeError } from "../../src/data/image_error.ts";
import { jpegHeader, libjpegInUse, systemLibjpeg, wasmLibjpeg } from "../../src/data/_jpeg.ts";
import {
  difference,
  encodeJpeg,
  encodePng,
  FIXTURES,
  gradientRgba,
  pilExpectations,
  withOrientation,
} from "./_image_files.ts";

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
    /notes\.txt: not a PNG, JPEG or WebP image/,
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

Deno.test("a window of a resize has the bytes of the whole resize cropped", () => {
  let state = 7;
  const noise = (width: number, height: number): RgbImage => ({
    width,
    height,
    data: new Uint8Array(width * height * 3).map(() => (state = (state * 1103515245 + 12345) >>> 0) >>> 24),
  });
  // Shrinks by under and over 1.5x (three taps and more), growth, and sides left as they are.
  const cases = [[50, 38, 34, 26], [61, 23, 13, 9], [9, 7, 31, 20], [20, 15, 20, 11], [20, 15, 7, 15]];
  for (const [fromWidth, fromHeight, width, height] of cases) {
    const image = noise(fromWidth, fromHeight);
    const whole = resizeImage(image, width, height);
    for (
      const window of [centreWindow({ width, height }, 5, 6), {
        top: 0,
        left: 1,
        width: width - 1,
        height: 3,
      }]
    ) {
      const part = resizeImage(image, width, height, window);
      assert.deepEqual(part, cropImage(whole, window), `${fromWidth}x${fromHeight} to ${width}x${height}`);
    }
  }
  const image = noise(8, 8);
  assert.throws(
    () => resizeImage(image, 4, 4, { top: 2, left: 0, width: 4, height: 3 }),
    /is not inside the 4x4/,
  );
});

Deno.test("the centre crop takes torchvision's window", () => {
  const image = decodeImage(encodePng(6, 4, gradientRgba(6, 4)));
  const crop = centreCrop(image, 3, 2);
  // left = round(1.5) = 2, top = round(1) = 1.
  assert.deepEqual([...crop.data.subarray(0, 3)], [20, 20, 7]);
  assert.throws(() => centreCrop(image, 7, 2), /cannot crop 7x2 out of a 6x4 image/);
  // A margin of 5 splits as Python's round(2.5) = 2 does, not as Math.round's 3.
  assert.deepEqual([...centreCrop(image, 1, 4).data.subarray(0, 3)], [20, 0, 7]);
});

Deno.test("a crop window copies its pixels and must lie inside the image", () => {
  const image = decodeImage(encodePng(6, 4, gradientRgba(6, 4)));
  const crop = cropImage(image, { top: 2, left: 3, height: 2, width: 3 });
  assert.deepEqual([crop.width, crop.height], [3, 2]);
  assert.deepEqual([...crop.data.subarray(0, 3)], [30, 40, 7]);
  assert.deepEqual([...crop.data.subarray(15, 18)], [50, 60, 7]);
  for (const window of [{ top: 3, left: 0, height: 2, width: 1 }, { top: 0, left: 0, height: 0, width: 1 }]) {
    assert.throws(() => cropImage(image, window), /is not inside the 6x4 image/);
  }
});

// Grey and colour JPEGs are decoded by libjpeg-turbo, as PIL's are: the same pixels. CMYK ones (and files
// libjpeg-turbo decodes only with a warning) go to jpeg-js with libjpeg-turbo's chroma upsampling and colour
// conversion, whose inverse DCT rounds differently: measured on photos of up to 640x480, no channel is off by
// more than 3 levels and the mean difference is about 0.16 (jpeg-js alone: up to 91 levels off, mean 4 to 5).
const JPEG_JS_TOLERANCE = { max: 3, mean: 0.5 };

Deno.test("every PNG mode decodes to exactly PIL's convert('RGB') pixels", async () => {
  const pil = await pilExpectations();
  const pngs = [...pil.keys()].filter((name) => name.endsWith(".png"));
  // grey, grey + alpha, RGB, RGBA, palette (with tRNS and short), 1-bit and 16-bit grey, 16-bit colour.
  assert.equal(pngs.length, 13);
  for (const name of pngs) {
    const want = pil.get(name)!;
    const image = decodeImage(await Deno.readFile(new URL(name, FIXTURES)), name);
    assert.deepEqual([image.width, image.height], [want.width, want.height], name);
    assert.deepEqual(image.data, want.rgb, `${name} (PIL mode ${want.mode})`);
  }
});

Deno.test("16-bit PNGs follow PIL: grey clipped to 0..255, colour cut to its high byte", async () => {
  const grey = decodeImage(await Deno.readFile(new URL("grey16.png", FIXTURES)));
  // The first four samples are 0, 254, 255 and 256.
  assert.deepEqual([...grey.data.subarray(0, 12)], [0, 0, 0, 254, 254, 254, 255, 255, 255, 255, 255, 255]);
  const pil = await pilExpectations();
  assert.equal(pil.get("grey16.png")!.mode, "I");
  assert.equal(pil.get("rgb16.png")!.mode, "RGB");
});

Deno.test("grey and colour JPEGs decode to exactly PIL's pixels", async () => {
  const pil = await pilExpectations();
  for (const name of ["plain.jpg", "plain_422.jpg", "plain_444.jpg", "grey.jpg"]) {
    const want = pil.get(name)!;
    const image = decodeImage(await Deno.readFile(new URL(name, FIXTURES)), name);
    assert.deepEqual([image.width, image.height], [want.width, want.height], name);
    assert.deepEqual(image.data, want.rgb, name);
  }
});

Deno.test("the system's libjpeg-turbo and its WebAssembly build both give PIL's pixels", async () => {
  const system = systemLibjpeg();
  assert.ok(system, "no system libturbojpeg: install it (Debian: apt-get install libturbojpeg0)");
  assert.equal(libjpegInUse().name, system.name, "the native build is the one in use where it is found");
  const pil = await pilExpectations();
  for (const build of [system, wasmLibjpeg()]) {
    for (const name of ["plain.jpg", "plain_422.jpg", "plain_444.jpg", "grey.jpg"]) {
      const bytes = await Deno.readFile(new URL(name, FIXTURES));
      assert.deepEqual(
        build.decode(bytes, jpegHeader(bytes, name)),
        pil.get(name)!.rgb,
        `${build.name}: ${name}`,
      );
    }
    const plain = await Deno.readFile(new URL("plain.jpg", FIXTURES));
    const truncated = plain.subarray(0, plain.length - 40);
    assert.equal(
      build.decode(truncated, jpegHeader(plain, "plain.jpg")),
      undefined,
      `${build.name}: truncated`,
    );
  }
});

Deno.test("still WebPs, lossy and lossless, with and without alpha, decode to exactly PIL's pixels", async () => {
  const pil = await pilExpectations();
  for (const name of ["lossy.webp", "lossless.webp", "lossy_alpha.webp", "lossless_alpha.webp"]) {
    const want = pil.get(name)!;
    const bytes = await Deno.readFile(new URL(name, FIXTURES));
    assert.equal(imageFormat(bytes), "webp");
    const image = decodeImage(bytes, name);
    assert.deepEqual([image.width, image.height], [want.width, want.height], name);
    assert.deepEqual(image.data, want.rgb, name);
  }
  assert.equal(pil.get("lossy_alpha.webp")!.mode, "RGBA");
});

Deno.test("CMYK JPEGs decode to PIL's pixels within jpeg-js's inverse DCT rounding", async () => {
  const want = (await pilExpectations()).get("cmyk.jpg")!;
  const image = decodeImage(await Deno.readFile(new URL("cmyk.jpg", FIXTURES)), "cmyk.jpg");
  assert.deepEqual([image.width, image.height], [want.width, want.height]);
  const { max, mean } = difference(image.data, want.rgb);
  assert.ok(max <= JPEG_JS_TOLERANCE.max && mean <= JPEG_JS_TOLERANCE.mean, `max ${max}, mean ${mean}`);
});

Deno.test("a JPEG with stray bytes after its image data decodes, as in PIL", async () => {
  const plain = await Deno.readFile(new URL("plain.jpg", FIXTURES));
  // libjpeg-turbo warns of "extraneous bytes before marker 0xd9" (an error to its WebAssembly build).
  const stray = new Uint8Array([...plain.subarray(0, plain.length - 2), 1, 2, 3, 0xff, 0xd9]);
  const want = (await pilExpectations()).get("plain.jpg")!;
  const { max, mean } = difference(decodeImage(stray, "stray.jpg").data, want.rgb);
  assert.ok(max <= JPEG_JS_TOLERANCE.max && mean <= JPEG_JS_TOLERANCE.mean, `max ${max}, mean ${mean}`);
});

Deno.test("EXIF orientations turn JPEGs upright as ImageOps.exif_transpose does", async () => {
  const pil = await pilExpectations();
  const plain = await Deno.readFile(new URL("plain.jpg", FIXTURES));
  const upright = decodeImage(plain);
  for (let orientation = 1; orientation <= 8; orientation++) {
    const name = [3, 6, 8].includes(orientation)
      ? `orientation${orientation}.jpg`
      : `plain.jpg+orientation${orientation}`;
    const want = orientation === 1 ? pil.get("plain.jpg")! : pil.get(name)!;
    for (const littleEndian of [false, true]) {
      const image = decodeImage(withOrientation(plain, orientation, littleEndian), name);
      assert.deepEqual([image.width, image.height], [want.width, want.height], name);
      assert.deepEqual(image.data, want.rgb, name);
    }
    // PIL's own files (its EXIF writer) agree with our hand-built segment.
    if (name.endsWith(".jpg")) {
      const image = decodeImage(await Deno.readFile(new URL(name, FIXTURES)), name);
      assert.deepEqual(image.data, want.rgb, name);
    }
    // torchvision's pixels: the tag ignored.
    assert.deepEqual(
      decodeImage(withOrientation(plain, orientation), name, { exifOrientation: false }),
      upright,
    );
  }
});

Deno.test("a broken or odd EXIF block leaves the photo as it is", () => {
  const plain = encodeJpeg(6, 4, gradientRgba(6, 4));
  const upright = decodeImage(plain);
  assert.deepEqual(decodeImage(withOrientation(plain, 9)), upright);
  const broken = withOrientation(plain, 6);
  broken.fill(0xee, 12, 20); // the TIFF header and IFD offset
  assert.deepEqual(decodeImage(broken), upright);
});

Deno.test("PNGs and JPEGs of other sizes and modes written by pngjs and jpeg-js decode", () => {
  for (const [width, height] of [[1, 1], [33, 17], [64, 3]]) {
    const rgba = gradientRgba(width, height);
    // Grey pictures for the grey colour types, whose value pngjs derives from R, G and B.
    const grey = rgba.map((v, i) => (i % 4 === 3 ? v : rgba[i - (i % 4)]));
    for (const colorType of [0, 2, 4, 6]) {
      const source = colorType === 0 || colorType === 4 ? grey : rgba;
      const image = decodeImage(encodePng(width, height, source, { colorType }), `c${colorType}.png`);
      assert.deepEqual([image.width, image.height], [width, height]);
      const last = (width * height - 1) * 3;
      const want = [...source.subarray((width * height - 1) * 4, (width * height - 1) * 4 + 3)];
      assert.deepEqual(
        [...image.data.subarray(last, last + 3)],
        want,
        `${width}x${height} colour type ${colorType}`,
      );
    }
    const photo = decodeImage(encodeJpeg(width, height, rgba, 95), "photo.jpg");
    assert.deepEqual([photo.width, photo.height], [width, height]);
  }
});

Deno.test("images larger than the megapixel limit are refused from their headers", async () => {
  // IHDR of 20000 x 15000 and nothing after it: refused before pngjs sees it.
  const png = encodePng(2, 2, gradientRgba(2, 2)).slice(0, 33);
  new DataView(png.buffer).setUint32(16, 20000);
  new DataView(png.buffer).setUint32(20, 15000);
  assert.throws(
    () => decodeImage(png, "huge.png"),
    (error: unknown) =>
      error instanceof ImageDecodeError && error.kind === "too-large" &&
      /^huge\.png: 20000x15000 pixels \(300\.0 megapixels\) is over the limit of 100 megapixels/.test(
        error.message,
      ),
  );
  const jpg = encodeJpeg(16, 8, gradientRgba(16, 8));
  assert.throws(
    () => decodeImage(jpg, "small.jpg", { maxMegapixels: 0.0001 }),
    /small\.jpg: 16x8 pixels .* limit of 0\.0001/,
  );
  assert.equal(decodeImage(jpg, "small.jpg", { maxMegapixels: 0.000128 }).width, 16);
  const webp = await Deno.readFile(new URL("lossless.webp", FIXTURES));
  assert.throws(
    () => decodeImage(webp, "small.webp", { maxMegapixels: 0.0006 }),
    /small\.webp: 33x21 pixels .* limit of 0\.0006/,
  );
  assert.throws(() => decodeImage(jpg, "small.jpg", { maxMegapixels: 0 }), RangeError);
});

Deno.test("each kind of bad file gives an ImageDecodeError of its kind naming the file", async () => {
  const kind = (bytes: Uint8Array, name: string) => {
    try {
      decodeImage(bytes, name);
    } catch (error) {
      assert.ok(error instanceof ImageDecodeError && error.source === name && error.message.startsWith(name));
      return `${error.kind}: ${error.message.slice(name.length + 2)}`;
    }
    return "decoded";
  };
  const text = (s: string) => new TextEncoder().encode(s);
  assert.match(kind(new Uint8Array(), "zero.png"), /^empty: empty file \(0 bytes\)/);
  assert.match(
    kind(text("RIFF\x10\0\0\0WEBPVP8 "), "a.webp"),
    /^corrupt: corrupt or truncated WebP data \(the file ends after 16 bytes/,
  );
  const animated = await Deno.readFile(new URL("animated.webp", FIXTURES));
  assert.match(kind(animated, "anim.webp"), /^unsupported: an animated WebP image, which is not supported/);
  const lossy = await Deno.readFile(new URL("lossy.webp", FIXTURES));
  assert.match(
    kind(lossy.subarray(0, lossy.length - 60), "cut.webp"),
    /^corrupt: corrupt or truncated WebP data/,
  );
  assert.match(kind(text("GIF89a...."), "a.gif"), /^unsupported: a GIF image/);
  assert.match(kind(text("BM\x46\0\0\0"), "a.bmp"), /^unsupported: a BMP image/);
  assert.match(kind(text("II*\0\x08\0\0\0"), "a.tif"), /^unsupported: a TIFF image/);
  assert.match(kind(text("P6\n2 2\n255\n"), "a.ppm"), /^unsupported: a PPM\/PGM image/);
  assert.match(
    kind(text("hello"), "notes.jpg"),
    /^not-an-image: not a PNG, JPEG or WebP image \(it starts with the bytes 68 65 6c 6c 6f\)/,
  );
  const png = encodePng(8, 8, gradientRgba(8, 8));
  assert.match(
    kind(png.subarray(0, 50), "cut.png"),
    /^corrupt: corrupt or truncated PNG data \(the IDAT chunk at byte 33/,
  );
  const flipped = png.slice();
  flipped[45] ^= 0xff; // inside IDAT: the CRC no longer matches
  assert.match(kind(flipped, "crc.png"), /^corrupt: corrupt or truncated PNG data/);
  const jpg = encodeJpeg(32, 32, gradientRgba(32, 32));
  assert.match(kind(jpg.subarray(0, jpg.length - 40), "cut.jpg"), /^corrupt: corrupt or truncated JPEG data/);
  assert.match(
    kind(jpg.subarray(0, 100), "header.jpg"),
    /^corrupt: corrupt or truncated JPEG data \(a segment at byte/,
  );
  const empty = "/nonexistent/cat.png";
  await assert.rejects(
    readImage(empty),
    (error: unknown) =>
      error instanceof ImageDecodeError && error.kind === "unreadable" && error.source === empty,
  );
});
