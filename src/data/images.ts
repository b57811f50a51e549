/**
 * Image files for prediction and training: PNG (decoded with `pngjs`), JPEG (with libjpeg-turbo, and
 * `jpeg-js` for CMYK; see `_jpeg.ts`) and WebP (with libwebp's WebAssembly build; see `_webp.ts`) to 8-bit
 * RGB with the pixels PIL's `Image.open(f).convert("RGB")` gives (JPEGs turned upright by their EXIF
 * orientation). Resizing and cropping them is `pixels.ts`'s.
 *
 * @module
 */

import { decodeJpeg, jpegHeader } from "./_jpeg.ts";
import { exifOrientation, orient } from "./_exif.ts";
import { decodePng, pngHeader } from "./_png.ts";
import { decodeWebp, isWebp, webpHeader } from "./_webp.ts";
import { ImageDecodeError } from "./image_error.ts";

import type { RgbImage } from "./rgb_image.ts";

export type { RgbImage };

/** What a file holds, from its first bytes. */
export type ImageFormat = "png" | "jpeg" | "webp";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** jpeg-js's own default; it bounds what one hostile or mistaken file can make us allocate (~1.6 GB). */
const MAX_MEGAPIXELS = 100;

/**
 * Tells PNG, JPEG and WebP files apart by their signatures; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { imageFormat } from "@denogpu/resnet/data";
 * console.log(imageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))); // "jpeg"
 * console.log(imageFormat(new TextEncoder().encode("GIF89a"))); // undefined
 * ```
 */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (isWebp(bytes)) return "webp";
  return undefined;
}

/** Image formats recognised only to name them in the error. */
const UNSUPPORTED: readonly { name: string; matches: (text: string) => boolean }[] = [
  { name: "GIF", matches: (text) => text.startsWith("GIF87a") || text.startsWith("GIF89a") },
  { name: "BMP", matches: (text) => text.startsWith("BM") },
  { name: "TIFF", matches: (text) => text.startsWith("II*\0") || text.startsWith("MM\0*") },
  { name: "PPM/PGM", matches: (text) => /^P[1-7]\s/.test(text) },
  { name: "HEIF/AVIF", matches: (text) => text.slice(4, 8) === "ftyp" && /heic|heix|mif1|avif/.test(text) },
];

function unrecognised(bytes: Uint8Array, source: string): ImageDecodeError {
  const text = String.fromCharCode(...bytes.subarray(0, 16));
  const other = UNSUPPORTED.find((format) => format.matches(text));
  if (other) {
    return new ImageDecodeError(
      `${source}: a ${other.name} image, which is not supported: only PNG, JPEG and WebP images are ` +
        `decoded; convert it to PNG or JPEG`,
      { source, kind: "unsupported" },
    );
  }
  const start = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return new ImageDecodeError(
    `${source}: not a PNG, JPEG or WebP image (it starts with the bytes ${start})`,
    {
      source,
      kind: "not-an-image",
    },
  );
}

/** How {@linkcode decodeImage} and {@linkcode readImage} decode. */
export interface DecodeOptions {
  /**
   * Images whose header declares more pixels than this many millions are refused before any pixel is
   * decoded, so that memory stays bounded (decoding takes up to 16 bytes a pixel).
   *
   * @default {100}
   */
  maxMegapixels?: number;
  /**
   * Turn JPEGs upright by their EXIF orientation tag, as PIL's `ImageOps.exif_transpose` does. This differs
   * from plain torchvision: PIL does not apply the tag when it opens a file, so `ImageFolder` feeds
   * phone photos sideways. Pass `false` for torchvision's pixels.
   *
   * @default {true}
   */
  exifOrientation?: boolean;
}

function checkSize(width: number, height: number, maxMegapixels: number, source: string): void {
  if (width * height <= maxMegapixels * 1e6) return;
  const megapixels = (width * height / 1e6).toFixed(1);
  throw new ImageDecodeError(
    `${source}: ${width}x${height} pixels (${megapixels} megapixels) is over the limit of ` +
      `${maxMegapixels} megapixels; raise maxMegapixels to decode it`,
    { source, kind: "too-large" },
  );
}

/**
 * Decodes a PNG, JPEG or WebP file's bytes to 8-bit RGB with the pixels PIL's
 * `Image.open(f).convert("RGB")` gives: grey and grey + alpha replicated to R, G and B, palettes looked up
 * (transparency ignored), alpha dropped without compositing, 16-bit colour cut to its high byte and 16-bit
 * grey clipped to 0..255 (as PIL does; most such images come out white). Grey and colour JPEGs are decoded
 * by libjpeg-turbo, PIL's own decoder (the system's `libturbojpeg` where FFI may load it, else its
 * WebAssembly build), to exactly PIL's pixels; CMYK ones, and files libjpeg-turbo decodes only with a
 * warning (stray bytes after the image data), by jpeg-js with libjpeg-turbo's chroma upsampling and colour
 * conversion, within 3 levels of PIL's (the inverse DCTs round differently). Still WebP images are decoded
 * by libwebp's WebAssembly build, to exactly PIL's pixels; animated ones are refused. The WebAssembly
 * builds are read from Deno's npm cache, which takes read access to it. JPEGs are turned upright by their
 * EXIF orientation unless `exifOrientation: false` (see {@linkcode DecodeOptions}; plain torchvision does
 * not turn them). Only JPEG's EXIF is read, not a PNG's eXIf chunk or a WebP's EXIF chunk.
 *
 * @example
 * ```ts
 * import { decodeImage } from "@denogpu/resnet/data";
 * const image = decodeImage(await Deno.readFile("cat.png"), "cat.png");
 * console.log(image.width, image.height);
 * ```
 *
 * @throws {ImageDecodeError} Naming `source`, for an empty file, one that is not a PNG, JPEG or WebP (GIF,
 * BMP, TIFF, PPM and HEIF are named as unsupported, as is an animated WebP), corrupt or truncated data, and
 * an image whose header declares more than `maxMegapixels`.
 * @throws {RangeError} When `maxMegapixels` is not a positive number.
 */
export function decodeImage(bytes: Uint8Array, source = "image", options: DecodeOptions = {}): RgbImage {
  const maxMegapixels = options.maxMegapixels ?? MAX_MEGAPIXELS;
  if (!(maxMegapixels > 0)) throw new RangeError(`maxMegapixels must be positive, got ${maxMegapixels}`);
  if (bytes.length === 0) {
    throw new ImageDecodeError(`${source}: empty file (0 bytes), expected a PNG, JPEG or WebP image`, {
      source,
      kind: "empty",
    });
  }
  const format = imageFormat(bytes);
  if (format === "png") {
    const header = pngHeader(bytes, source);
    checkSize(header.width, header.height, maxMegapixels, source);
    return decodePng(bytes, header, source);
  }
  if (format === "jpeg") {
    const header = jpegHeader(bytes, source);
    checkSize(header.width, header.height, maxMegapixels, source);
    const image = decodeJpeg(bytes, header, source);
    return options.exifOrientation === false ? image : orient(image, exifOrientation(header.exif));
  }
  if (format === "webp") {
    const header = webpHeader(bytes, source);
    checkSize(header.width, header.height, maxMegapixels, source);
    return decodeWebp(bytes, header, source);
  }
  throw unrecognised(bytes, source);
}

/**
 * Reads and decodes a PNG, JPEG or WebP file (see {@linkcode decodeImage}).
 *
 * @example
 * ```ts
 * import { readImage } from "@denogpu/resnet/data";
 * const image = await readImage("cat.jpg");
 * ```
 *
 * @throws {ImageDecodeError} Naming `path`: `"unreadable"` when the file cannot be read, and every error
 * of {@linkcode decodeImage}.
 */
export async function readImage(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new ImageDecodeError(`cannot read ${path}: ${(error as Error).message}`, {
      source: path,
      kind: "unreadable",
      cause: error,
    });
  }
  return decodeImage(bytes, path, options);
}
