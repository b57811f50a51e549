/**
 * libjpeg-turbo's last two decoding steps, which PIL's JPEG pixels come from and jpeg-js does differently:
 * "fancy" chroma upsampling (a triangle filter with alternating rounding, where jpeg-js repeats each
 * sample) and the fixed-point YCbCr to RGB conversion of `jdcolor.c` (where jpeg-js truncates floats).
 * Transcribed from `jdsample.c` and `jdcolor.c` so that only the inverse DCTs differ (a level or so per
 * component, up to 3 in RGB).
 *
 * @module
 */

/** One component's sampling factors, from the frame header. */
export interface Sampling {
  h: number;
  v: number;
}

/**
 * Brings component `c` of `pixels` (`channels` interleaved, `width` x `height`, as jpeg-js returns it
 * with each sample repeated over its block) to full resolution as libjpeg-turbo does, in place. The
 * component's own samples are read back from the top-left pixel of each block; `ratio` is the maximum
 * sampling factor over the component's, per axis.
 */
export function upsampleComponent(
  pixels: Uint8Array,
  geometry: { width: number; height: number; channels: number; c: number },
  ratio: Sampling,
): void {
  const { width, height, channels, c } = geometry;
  const sw = Math.ceil(width / ratio.h);
  const sh = Math.ceil(height / ratio.v);
  const horizontal = ratio.h === 2 && sw > 2;
  const vertical = ratio.v === 2 && (ratio.h === 1 || horizontal);
  // Box upsampling (every other ratio, and narrow components) is what jpeg-js did already.
  if (!horizontal && !vertical) return;
  const plane = new Int32Array(sw * sh);
  for (let j = 0; j < sh; j++) {
    for (let i = 0; i < sw; i++) {
      plane[j * sw + i] = pixels[((j * ratio.v) * width + i * ratio.h) * channels + c];
    }
  }
  const sums = new Int32Array(sw);
  for (let y = 0; y < height; y++) {
    const j = Math.floor(y / ratio.v);
    const below = (y & 1) === 1;
    // The row above the first and below the last repeat them (libjpeg's context rows).
    const far = vertical ? Math.min(Math.max(below ? j + 1 : j - 1, 0), sh - 1) : j;
    for (let i = 0; i < sw; i++) {
      sums[i] = vertical ? 3 * plane[j * sw + i] + plane[far * sw + i] : plane[j * sw + i];
    }
    for (let x = 0; x < width; x++) {
      const i = horizontal ? x >> 1 : x;
      let value: number;
      if (!horizontal) {
        value = (sums[i] + (below ? 2 : 1)) >> 2; // h1v2
      } else {
        const odd = (x & 1) === 1;
        const neighbour = sums[Math.min(Math.max(odd ? i + 1 : i - 1, 0), sw - 1)];
        value = vertical
          ? (3 * sums[i] + neighbour + (odd ? 7 : 8)) >> 4 // h2v2
          : (3 * sums[i] + neighbour + (odd ? 2 : 1)) >> 2; // h2v1
      }
      pixels[(y * width + x) * channels + c] = value;
    }
  }
}

const SCALE_BITS = 16;
const ONE_HALF = 1 << (SCALE_BITS - 1);
const fix = (x: number) => Math.floor(x * (1 << SCALE_BITS) + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (fix(1.402) * x + ONE_HALF) >> SCALE_BITS;
  CB_B[i] = (fix(1.772) * x + ONE_HALF) >> SCALE_BITS;
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + ONE_HALF;
}

/** libjpeg's YCbCr to RGB conversion of interleaved pixels, in place (stores clamp to 0..255). */
export function yccToRgb(pixels: Uint8Array): void {
  const clamped = new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  for (let p = 0; p < pixels.length; p += 3) {
    const y = pixels[p], cb = pixels[p + 1], cr = pixels[p + 2];
    clamped[p] = y + CR_R[cr];
    clamped[p + 1] = y + ((CB_G[cb] + CR_G[cr]) >> SCALE_BITS);
    clamped[p + 2] = y + CB_B[cb];
  }
}
