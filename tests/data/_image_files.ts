/** Image files for the decoding and image-folder tests: encoders, a hand-built EXIF block, PIL's fixtures. */

import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";

/** RGBA pixels where pixel (x, y) is (10x, 20y, 7, 255). */
export function gradientRgba(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set([(10 * x) & 255, (20 * y) & 255, 7, 255], (y * width + x) * 4);
  }
  return rgba;
}

/** A PNG written by pngjs; `options` are pngjs's (e.g. `colorType: 0` for grey). */
export function encodePng(
  width: number,
  height: number,
  rgba: Uint8Array,
  options: Record<string, unknown> = {},
): Uint8Array {
  const png = new PNG({ width, height, ...options });
  png.data = Buffer.from(rgba);
  return new Uint8Array(PNG.sync.write(png, options));
}

/** A JPEG written by jpeg-js. */
export function encodeJpeg(width: number, height: number, rgba: Uint8Array, quality = 90): Uint8Array {
  return new Uint8Array(jpeg.encode({ data: rgba, width, height }, quality).data);
}

/**
 * `jpeg` with an APP1 segment put in after SOI that holds an EXIF block with one tag, the orientation,
 * in either byte order: "Exif\0\0", the TIFF header, and IFD0 with one SHORT entry.
 */
export function withOrientation(
  jpegBytes: Uint8Array,
  orientation: number,
  littleEndian = false,
): Uint8Array {
  const tiff = new DataView(new ArrayBuffer(8 + 2 + 12 + 4));
  tiff.setUint16(0, littleEndian ? 0x4949 : 0x4d4d); // "II" or "MM"
  tiff.setUint16(2, 42, littleEndian);
  tiff.setUint32(4, 8, littleEndian); // IFD0 follows the header
  tiff.setUint16(8, 1, littleEndian); // one entry
  tiff.setUint16(10, 0x0112, littleEndian); // Orientation
  tiff.setUint16(12, 3, littleEndian); // SHORT
  tiff.setUint32(14, 1, littleEndian); // one value, stored in the entry itself
  tiff.setUint16(18, orientation, littleEndian);
  tiff.setUint32(22, 0, littleEndian); // no next IFD
  const payload = new Uint8Array([...new TextEncoder().encode("Exif\0\0"), ...new Uint8Array(tiff.buffer)]);
  const length = payload.length + 2;
  return new Uint8Array([
    ...jpegBytes.subarray(0, 2),
    0xff,
    0xe1,
    length >> 8,
    length & 255,
    ...payload,
    ...jpegBytes.subarray(2),
  ]);
}

/** What PIL made of one fixture (tools/make_image_fixtures.py). */
export interface PilImage {
  mode: string;
  width: number;
  height: number;
  rgb: Uint8Array;
}

export const FIXTURES = new URL("../fixtures/images/", import.meta.url);

/** PIL's pixels of every fixture, by name. */
export async function pilExpectations(): Promise<Map<string, PilImage>> {
  const { files } = JSON.parse(await Deno.readTextFile(new URL("expected.json", FIXTURES)));
  const table = new Map<string, PilImage>();
  for (const [name, entry] of Object.entries(files) as [string, PilImage & { rgb: string }][]) {
    table.set(name, { ...entry, rgb: Uint8Array.from(atob(entry.rgb), (c) => c.charCodeAt(0)) });
  }
  return table;
}

/** The largest and the mean absolute difference of two byte arrays of equal length. */
export function difference(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}
