/**
 * JPEG files to 8-bit RGB. The frame size, sampling factors and EXIF block are read from the markers first,
 * so that an oversized photo is refused before anything is allocated. Grey and colour (YCbCr, RGB) files
 * are then decoded by libjpeg-turbo, PIL's own decoder: the system's native library (`libturbojpeg`)
 * through FFI where it is installed and FFI is permitted, else its WebAssembly build
 * `@cornerstonejs/codec-libjpeg-turbo-8bit` (read from the npm package, so that decoding takes read access
 * to Deno's npm cache, and instantiated synchronously on the first JPEG of a thread). Either way, with
 * libjpeg-turbo's defaults (fancy upsampling, the islow inverse DCT) the pixels are PIL's, byte for byte.
 *
 * `jpeg-js` decodes what that build cannot: CMYK and YCCK files (it only converts to RGB or grey), and
 * files that libjpeg-turbo decodes only with a warning, which both builds report as an error, such as stray
 * bytes after the image data (PIL ignores the warning and decodes them). Its colour pixels are then
 * upsampled and converted as libjpeg-turbo does (see `_chroma.ts`), within 3 levels of PIL's.
 *
 * @module
 */

import jpeg from "jpeg-js";
import libjpegTurbo from "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs";
import { type Sampling, upsampleComponent, yccToRgb } from "./_chroma.ts";
import { ImageDecodeError } from "./image_error.ts";
import type { RgbImage } from "./rgb_image.ts";
import { compilePackageWasm, instantiateSync } from "./_wasm.ts";

/** What the markers before the image data tell. */
export interface JpegHeader {
  width: number;
  height: number;
  /** Per component: its id and sampling factors. */
  components: (Sampling & { id: number })[];
  /** Whether a JFIF APP0 segment is present (it implies YCbCr). */
  jfif: boolean;
  /** The Adobe APP14 segment's colour transform and the byte that holds it. */
  adobe: { transform: number; at: number } | undefined;
  /** The first `Exif\0\0` APP1 segment's payload (the one PIL reads), if any. */
  exif: Uint8Array | undefined;
}

function corrupt(source: string, detail: string, cause?: unknown): ImageDecodeError {
  return new ImageDecodeError(`${source}: corrupt or truncated JPEG data (${detail})`, {
    source,
    kind: "corrupt",
    cause,
  });
}

function startsWith(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

const SOS = 0xda;
const EOI = 0xd9;
const APP0 = 0xe0;
const APP1 = 0xe1;
const APP14 = 0xee;

/** Start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks the marker segments from SOI to the first scan. */
export function jpegHeader(bytes: Uint8Array, source: string): JpegHeader {
  let frame: Pick<JpegHeader, "width" | "height" | "components"> | undefined;
  let exif: Uint8Array | undefined;
  let adobe: JpegHeader["adobe"];
  let jfif = false;
  let at = 2;
  for (;;) {
    // Like libjpeg, skip stray bytes and fill bytes up to the next marker.
    while (at < bytes.length && bytes[at] !== 0xff) at++;
    while (at < bytes.length && bytes[at] === 0xff) at++;
    if (at >= bytes.length) throw corrupt(source, "the file ends before the image data");
    const marker = bytes[at++];
    if (marker === EOI) throw corrupt(source, "the file ends (EOI) before the image data");
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // segments without a length
    if (at + 2 > bytes.length) throw corrupt(source, "the file ends inside a marker");
    const length = (bytes[at] << 8) | bytes[at + 1];
    const end = at + length;
    if (length < 2 || end > bytes.length) {
      throw corrupt(source, `a segment at byte ${at - 2} runs past the file's end`);
    }
    const body = at + 2;
    if (marker === SOS) break;
    if (isFrame(marker) && !frame) {
      const count = bytes[body + 5];
      if (length < 8 + 3 * count) throw corrupt(source, `a frame header of ${length} bytes`);
      const components = Array.from({ length: count }, (_, k) => ({
        id: bytes[body + 6 + 3 * k],
        h: bytes[body + 7 + 3 * k] >> 4,
        v: bytes[body + 7 + 3 * k] & 15,
      }));
      frame = {
        height: (bytes[body + 1] << 8) | bytes[body + 2],
        width: (bytes[body + 3] << 8) | bytes[body + 4],
        components,
      };
    } else if (marker === APP1 && !exif && startsWith(bytes, body, "Exif\0\0")) {
      exif = bytes.subarray(body, end);
    } else if (marker === APP0 && startsWith(bytes, body, "JFIF\0")) {
      jfif = true;
    } else if (marker === APP14 && !adobe && length >= 14 && startsWith(bytes, body, "Adobe")) {
      adobe = { transform: bytes[body + 11], at: body + 11 };
    }
    at = end;
  }
  if (!frame) throw corrupt(source, "no frame header before the image data");
  if (!(frame.width > 0 && frame.height > 0)) {
    throw corrupt(source, `the frame header declares ${frame.width}x${frame.height} pixels`);
  }
  return { ...frame, jfif, adobe, exif };
}

/** libjpeg's guess of a three-component file's colour space (`jdapimin.c`). */
function isYcc(header: JpegHeader): boolean {
  if (header.jfif) return true;
  if (header.adobe) return header.adobe.transform !== 0;
  const [a, b, c] = header.components.map((component) => component.id);
  return !(a === 0x52 && b === 0x47 && c === 0x42); // "R", "G", "B"
}

function jpegJs(bytes: Uint8Array, header: JpegHeader, source: string, raw: boolean) {
  const megapixels = (header.width * header.height) / 1e6;
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      colorTransform: raw ? false : undefined,
      // The caller has bounded the size; jpeg-js's own limits (100 MP, 512 MB) would only get in the way
      // of a caller who allowed more. Decoding needs about 13 bytes a pixel.
      maxResolutionInMP: Math.ceil(megapixels) + 1,
      maxMemoryUsageInMB: Math.max(512, Math.ceil(megapixels * 16)),
    });
  } catch (error) {
    throw corrupt(source, (error as Error).message, error);
  }
  const { width, height, data } = decoded;
  if (width !== header.width || height !== header.height || data.length < width * height * 3) {
    throw corrupt(source, `${width}x${height} decoded to ${data.length} bytes`);
  }
  return data.subarray(0, width * height * 3);
}

/** libjpeg-turbo's decoding of a file to RGB (grey replicated), or `undefined` where it fails or warns. */
export interface Libjpeg {
  /** Which build, for the benches. */
  name: string;
  decode(bytes: Uint8Array, header: JpegHeader): Uint8Array | undefined;
}

/**
 * Where the system's TurboJPEG library is found: Debian's and Ubuntu's `libturbojpeg0`, Homebrew's
 * `jpeg-turbo`, libjpeg-turbo's Windows installer.
 */
const TURBOJPEG_FILES: Partial<Record<typeof Deno.build.os, string[]>> = {
  linux: ["libturbojpeg.so.0"],
  darwin: [
    "libturbojpeg.0.dylib",
    "/opt/homebrew/lib/libturbojpeg.0.dylib",
    "/usr/local/lib/libturbojpeg.0.dylib",
  ],
  windows: ["turbojpeg.dll"],
};

/** The TurboJPEG functions used, in every version from 1.2 on. */
const TURBOJPEG_SYMBOLS = {
  tjInitDecompress: { parameters: [], result: "pointer" },
  tjDecompress2: {
    parameters: ["pointer", "buffer", "u64", "buffer", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
} as const;

const TJPF_RGB = 0;

/**
 * The system's libjpeg-turbo, the native build PIL itself decodes with (SIMD code, about 4x the
 * WebAssembly build's speed), through Deno's FFI; `undefined` without FFI permission (it is queried, never
 * prompted for) or where no library is found. TurboJPEG's defaults are libjpeg's (fancy upsampling, the
 * islow inverse DCT), so its pixels are the WebAssembly build's and PIL's.
 */
export function systemLibjpeg(): Libjpeg | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  for (const file of TURBOJPEG_FILES[Deno.build.os] ?? []) {
    let library: Deno.DynamicLibrary<typeof TURBOJPEG_SYMBOLS>;
    try {
      library = Deno.dlopen(file, TURBOJPEG_SYMBOLS);
    } catch {
      continue;
    }
    const handle = library.symbols.tjInitDecompress();
    if (handle === null) {
      library.close();
      continue;
    }
    return {
      name: `libjpeg-turbo, native (${file})`,
      decode(bytes, { width, height }) {
        const data = new Uint8Array(width * height * 3);
        // Asking for the frame's own size keeps the scale at 1; a pitch of 0 packs the rows.
        const status = library.symbols.tjDecompress2(
          handle,
          bytes,
          BigInt(bytes.length),
          data,
          width,
          0,
          height,
          TJPF_RGB,
          0,
        );
        return status === 0 ? data : undefined;
      },
    };
  }
  return undefined;
}

/** The part of the emscripten module used here: its embind class and its heap. */
interface TurboModule {
  JPEGDecoder: new () => TurboDecoder;
  HEAPU8: Uint8Array;
}

/** The package's decoder: `decode` throws (an emscripten exception pointer) on any error or warning. */
interface TurboDecoder {
  getEncodedBuffer(size: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number };
}

/** A heap grown past this by a large photo is given back, by starting a new instance for the next file. */
const MAX_HEAP_BYTES = 256 << 20;

/**
 * libjpeg-turbo built for WebAssembly (`@cornerstonejs/codec-libjpeg-turbo-8bit`), compiled on its first
 * file. A failed call leaves the instance's stack pointer where the exception left it (16 bytes lower each
 * time, until the stack runs into the module's static data), so the instance is dropped and the next file
 * gets a new one (about a millisecond), as it is after a large photo has grown its heap.
 */
export function wasmLibjpeg(): Libjpeg {
  let wasm: WebAssembly.Module | undefined;
  let turbo: { module: TurboModule; decoder: TurboDecoder } | undefined;
  return {
    name: "libjpeg-turbo, WebAssembly",
    decode(bytes, { width, height }) {
      // A literal, which `deno publish` rewrites to the package's npm: specifier.
      wasm ??= compilePackageWasm(
        new URL(import.meta.resolve("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm")),
        "libjpeg-turbo",
        ", or FFI access to the system's libturbojpeg",
      );
      if (!turbo) {
        const module = instantiateSync<TurboModule>(libjpegTurbo, wasm);
        turbo = { module, decoder: new module.JPEGDecoder() };
      }
      const { module, decoder } = turbo;
      let decoded: Uint8Array;
      try {
        decoder.getEncodedBuffer(bytes.length).set(bytes);
        decoder.decode();
        const info = decoder.getFrameInfo();
        decoded = decoder.getDecodedBuffer();
        if (info.width !== width || info.height !== height) return undefined;
      } catch {
        turbo = undefined;
        return undefined;
      }
      const pixels = width * height;
      const data = new Uint8Array(pixels * 3);
      if (decoded.length === pixels) {
        for (let p = 0, q = 0; p < pixels; p++, q += 3) data[q] = data[q + 1] = data[q + 2] = decoded[p];
      } else if (decoded.length === pixels * 3) {
        data.set(decoded);
      } else {
        return undefined;
      }
      if (module.HEAPU8.length > MAX_HEAP_BYTES) turbo = undefined;
      return data;
    },
  };
}

/** This thread's libjpeg-turbo: the system's where FFI may load it, else the WebAssembly build. */
let libjpeg: Libjpeg | undefined;

/** The libjpeg-turbo build this thread decodes with (chosen on the first call). */
export function libjpegInUse(): Libjpeg {
  return libjpeg ??= systemLibjpeg() ?? wasmLibjpeg();
}

/**
 * Decodes a JPEG whose header has been read and checked (see {@linkcode jpegHeader}), not yet oriented:
 * with libjpeg-turbo where it can, else with jpeg-js (see the module's notes).
 */
export function decodeJpeg(bytes: Uint8Array, header: JpegHeader, source: string): RgbImage {
  const { width, height, components } = header;
  if (components.length === 1 || components.length === 3) {
    const data = libjpegInUse().decode(bytes, header);
    if (data) return { width, height, data };
  }
  return decodeWithJpegJs(bytes, header, source);
}

/**
 * jpeg-js's decoding. Three-component files come from jpeg-js as their raw components, which are then
 * upsampled and converted as libjpeg does; grey and CMYK files are left to jpeg-js.
 */
function decodeWithJpegJs(bytes: Uint8Array, header: JpegHeader, source: string): RgbImage {
  const { width, height, components } = header;
  if (components.length !== 3) return { width, height, data: jpegJs(bytes, header, source, false) };
  let input = bytes;
  if (header.adobe && header.adobe.transform !== 0) {
    // jpeg-js converts colours whenever the Adobe segment asks for it; a zero there keeps the raw samples.
    input = bytes.slice();
    input[header.adobe.at] = 0;
  }
  const data = jpegJs(input, header, source, true);
  const maxH = Math.max(...components.map((component) => component.h));
  const maxV = Math.max(...components.map((component) => component.v));
  components.forEach((component, c) => {
    if (maxH % component.h === 0 && maxV % component.v === 0) {
      upsampleComponent(data, { width, height, channels: 3, c }, {
        h: maxH / component.h,
        v: maxV / component.v,
      });
    }
  });
  if (isYcc(header)) yccToRgb(data);
  return { width, height, data };
}
