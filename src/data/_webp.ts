/**
 * WebP files to 8-bit RGB. The canvas size and the animation flag are read from the RIFF chunks first, so
 * that an oversized image is refused before anything is allocated. Still images (lossy, lossless, with or
 * without alpha) are then decoded by libwebp, PIL's own decoder, in the WebAssembly build of
 * `@jsquash/webp` (read from the npm package and instantiated synchronously on the first WebP of a thread):
 * its RGBA pixels are PIL's, byte for byte, and the alpha is dropped as `convert("RGB")` drops it.
 * Animated files are refused: that build decodes still images only.
 *
 * @module
 */

import webpDecoder from "@jsquash/webp/codec/dec/webp_dec.js";
import { ImageDecodeError } from "./image_error.ts";
import type { RgbImage } from "./rgb_image.ts";
import { compilePackageWasm, instantiateSync } from "./_wasm.ts";

/** What the chunks before the image data tell. */
export interface WebpHeader {
  width: number;
  height: number;
  /** Whether the extended header's animation flag is set. */
  animated: boolean;
}

function corrupt(source: string, detail: string, cause?: unknown): ImageDecodeError {
  return new ImageDecodeError(`${source}: corrupt or truncated WebP data (${detail})`, {
    source,
    kind: "corrupt",
    cause,
  });
}

const fourCc = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
const uint24 = (bytes: Uint8Array, at: number) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);

/** Whether the bytes start as a WebP file does: `RIFF`, a size, `WEBP`. */
export function isWebp(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourCc(bytes, 0) === "RIFF" && fourCc(bytes, 8) === "WEBP";
}

/**
 * The first chunk's size: the extended header's canvas (`VP8X`), a lossy frame's (`VP8 `) or a lossless
 * one's (`VP8L`), as libwebp's `WebPGetFeatures` reads them.
 */
export function webpHeader(bytes: Uint8Array, source: string): WebpHeader {
  if (bytes.length < 30) {
    throw corrupt(source, `the file ends after ${bytes.length} bytes, inside its header`);
  }
  const chunk = fourCc(bytes, 12);
  if (chunk === "VP8X") {
    return {
      width: uint24(bytes, 24) + 1,
      height: uint24(bytes, 27) + 1,
      animated: (bytes[20] & 0x02) !== 0,
    };
  }
  if (chunk === "VP8 ") {
    if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) {
      throw corrupt(source, "a lossy frame without its start code");
    }
    const width = (bytes[26] | (bytes[27] << 8)) & 0x3fff;
    const height = (bytes[28] | (bytes[29] << 8)) & 0x3fff;
    return { width, height, animated: false };
  }
  if (chunk === "VP8L") {
    if (bytes[20] !== 0x2f) throw corrupt(source, "a lossless frame without its signature");
    const bits = (bytes[21] | (bytes[22] << 8) | (bytes[23] << 16) | (bytes[24] << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false };
  }
  throw corrupt(source, `its first chunk is "${chunk}", not VP8, VP8L or VP8X`);
}

/** The part of the emscripten module used here: its embind function. */
interface WebpModule {
  decode(data: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } | null;
}

/** This thread's instance of libwebp, made on its first WebP. */
let libwebp: WebpModule | undefined;

function instantiate(): WebpModule {
  // A literal, which `deno publish` rewrites to the package's npm: specifier.
  const url = new URL(import.meta.resolve("@jsquash/webp/codec/dec/webp_dec.wasm"));
  return instantiateSync<WebpModule>(webpDecoder, compilePackageWasm(url, "libwebp"));
}

/** Decodes a WebP whose header has been read and checked (see {@linkcode webpHeader}). */
export function decodeWebp(bytes: Uint8Array, header: WebpHeader, source: string): RgbImage {
  if (header.animated) {
    throw new ImageDecodeError(
      `${source}: an animated WebP image, which is not supported: only still WebP images are decoded; ` +
        `convert its first frame to PNG, JPEG or a still WebP`,
      { source, kind: "unsupported" },
    );
  }
  libwebp ??= instantiate();
  const decoded = libwebp.decode(bytes);
  if (!decoded) throw corrupt(source, "libwebp could not decode it");
  const { width, height, data: rgba } = decoded;
  if (width !== header.width || height !== header.height) {
    throw corrupt(source, `its header says ${header.width}x${header.height}, its data ${width}x${height}`);
  }
  const pixels = width * height;
  const data = new Uint8Array(pixels * 3);
  for (let p = 0, q = 0, r = 0; p < pixels; p++, q += 3, r += 4) {
    data[q] = rgba[r];
    data[q + 1] = rgba[r + 1];
    data[q + 2] = rgba[r + 2];
  }
  return { width, height, data };
}
