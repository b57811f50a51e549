/**
 * PNG files to 8-bit RGB exactly as PIL's `Image.open(f).convert("RGB")` makes them, decoded with `pngjs`.
 * PIL ignores transparency when converting to RGB and pads a short palette with its grey ramp; for 16-bit
 * files it takes the high byte of each colour sample but clips 16-bit grey to 0..255 (PIL opens it as
 * 32-bit integers, "I"), so that most 16-bit grey photos come out white. A model trained through
 * torchvision saw those pixels, so we make the same ones.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { ImageDecodeError } from "./image_error.ts";
import type { RgbImage } from "./rgb_image.ts";

/** The fields of a PNG's IHDR chunk that decoding needs. */
export interface PngHeader {
  width: number;
  height: number;
  /** Bits per sample: 1, 2, 4, 8 or 16. */
  depth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType: number;
}

const IHDR_END = 8 + 8 + 13;
const PALETTE = 3;
const GREY = 0;

function corrupt(source: string, detail: string, cause?: unknown): ImageDecodeError {
  return new ImageDecodeError(`${source}: corrupt or truncated PNG data (${detail})`, {
    source,
    kind: "corrupt",
    cause,
  });
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
}

/**
 * Reads the IHDR chunk, which the PNG standard puts first, so that the size can be checked before
 * anything is inflated.
 */
export function pngHeader(bytes: Uint8Array, source: string): PngHeader {
  if (bytes.length < IHDR_END || chunkType(bytes, 8) !== "IHDR" || u32(bytes, 8) !== 13) {
    throw corrupt(source, "no IHDR header after the signature");
  }
  return { width: u32(bytes, 16), height: u32(bytes, 20), depth: bytes[24], colorType: bytes[25] };
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PLTE chunk of 256 entries: the file's, then PIL's grey ramp `(i, i, i)` for the indices it lacks. */
function fullPalette(entries: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + 768);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, 768);
  chunk.set([0x50, 0x4c, 0x54, 0x45], 4); // "PLTE"
  for (let i = 0; i < 256; i++) chunk.fill(i, 8 + i * 3, 11 + i * 3);
  chunk.set(entries.subarray(0, 768), 8);
  view.setUint32(8 + 768, crc32(chunk.subarray(4, 8 + 768)));
  return chunk;
}

/**
 * The file with the chunks PIL's RGB conversion ignores taken out and a short palette padded, so that
 * pngjs yields PIL's colours: pngjs blacks out the colour of pixels that a tRNS colour key marks
 * transparent, and refuses palette indices past the palette's end, where PIL reads its grey ramp.
 * Returns `bytes` itself when nothing needs changing.
 */
function normaliseChunks(bytes: Uint8Array, header: PngHeader, source: string): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let changed = false;
  let at = 8;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) {
      throw corrupt(source, `the file ends inside a chunk header at byte ${at} of ${bytes.length}`);
    }
    const type = chunkType(bytes, at);
    const end = at + 12 + u32(bytes, at);
    if (end > bytes.length) {
      throw corrupt(source, `the ${type} chunk at byte ${at} needs ${end - at} bytes; the file ends first`);
    }
    if (type === "tRNS") {
      changed = true;
    } else if (type === "PLTE" && header.colorType === PALETTE && end - at - 12 < 768) {
      parts.push(fullPalette(bytes.subarray(at + 8, end - 4)));
      changed = true;
    } else {
      parts.push(bytes.subarray(at, end));
    }
    at = end;
    if (type === "IEND") break;
  }
  if (!changed) return bytes;
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Decodes a PNG whose header has been read and checked (see {@linkcode pngHeader}). */
export function decodePng(bytes: Uint8Array, header: PngHeader, source: string): RgbImage {
  const normalised = normaliseChunks(bytes, header, source);
  const sixteen = header.depth === 16;
  let decoded: { width: number; height: number; data: Uint8Array | Uint16Array };
  try {
    // Without rescaling, pngjs hands 16-bit samples over as they are; lower depths it scales to 0..255
    // exactly as PIL does (a 2-bit 3 becomes 255), so only 16-bit files skip it.
    decoded = PNG.sync.read(
      Buffer.from(normalised.buffer, normalised.byteOffset, normalised.byteLength),
      { skipRescale: sixteen },
    );
  } catch (error) {
    throw corrupt(source, (error as Error).message, error);
  }
  const { width, height, data } = decoded;
  const pixels = width * height;
  if (width !== header.width || height !== header.height || data.length < pixels * 4) {
    throw corrupt(source, `${width}x${height} decoded to ${data.length} samples`);
  }
  const rgb = new Uint8Array(pixels * 3);
  if (!sixteen) {
    for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
      rgb[j] = data[i];
      rgb[j + 1] = data[i + 1];
      rgb[j + 2] = data[i + 2];
    }
  } else if (header.colorType === GREY) {
    for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) rgb.fill(Math.min(data[i], 255), j, j + 3);
  } else {
    for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
      rgb[j] = data[i] >> 8;
      rgb[j + 1] = data[i + 1] >> 8;
      rgb[j + 2] = data[i + 2] >> 8;
    }
  }
  return { width, height, data: rgb };
}
