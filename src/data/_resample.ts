/**
 * PIL's antialiased bilinear resampling of 8-bit images (`Image.resize(size, Image.BILINEAR)`, the
 * resize of torchvision's transforms on PIL images), transcribed from Pillow's `libImaging/Resample.c`
 * so that our bytes equal PIL's: the same float64 weights, the same rounding to 22-bit fixed point, and
 * the same rounding of the horizontal pass to bytes before the vertical one.
 *
 * @module
 */

/** `32 - 8 - 2`: fractional bits of the fixed-point weights (8 bits of pixel and 2 of headroom). */
const PRECISION_BITS = 22;

/** The fixed-point weights of one axis: output `o` sums `count[o]` inputs from `start[o]`. */
export interface AxisCoefficients {
  /** First input pixel of each output pixel. */
  start: Int32Array;
  /** Input pixels of each output pixel. */
  count: Int32Array;
  /** Weights per output pixel, `taps` slots each (zero past `count`), in units of 2^-22. */
  weights: Int32Array;
  /** Slots per output pixel: the most inputs any output pixel reads. */
  taps: number;
}

/** The triangle filter of support 1 (PIL's `bilinear_filter`). */
function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/**
 * Weights resampling `inSize` pixels to `outSize` (Pillow's `precompute_coeffs` with the box `[0, inSize]`
 * and `normalize_coeffs_8bpc`). When shrinking, the filter widens by the factor, so every input pixel
 * contributes.
 */
export function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = filterScale;
  const inverse = 1 / filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    // C's (int) casts truncate; the clamps make that a rounding of the window's ends.
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const n = Math.min(inSize, Math.trunc(centre + support + 0.5)) - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      // The same operations in the same order as Pillow, so the float64 weights agree to the last bit.
      k[i] = triangle((i + lo - centre + 0.5) * inverse);
      sum += k[i];
    }
    for (let i = 0; i < n; i++) {
      // The triangle has no negative lobe, so Pillow's rounding of negative weights never applies.
      weights[o * taps + i] = Math.trunc(0.5 + (k[i] / sum) * (1 << PRECISION_BITS));
    }
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, taps };
}

/** A fixed-point sum back to a byte: Pillow's `clip8`. */
function clip8(sum: number): number {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** Half of the last fixed-point unit: Pillow starts every sum there, so that the shift rounds. */
const ROUNDING = 1 << (PRECISION_BITS - 1);

/**
 * The horizontal pass: each of `lines` rows of `inWidth` pixels of `channels` bytes to a row of as many
 * pixels as `coefficients` has outputs. Sums are exact in int32 (at most 255 * 2^22 plus the rounding), so
 * they equal Pillow's whatever the order of their terms.
 */
function resampleRows(
  input: Uint8Array,
  output: Uint8Array,
  coefficients: AxisCoefficients,
  lines: number,
  inWidth: number,
  channels: number,
): void {
  const { start, count, weights, taps } = coefficients;
  const outWidth = start.length;
  for (let line = 0; line < lines; line++) {
    const inRow = line * inWidth * channels;
    let out = line * outWidth * channels;
    for (let o = 0; o < outWidth; o++) {
      const n = count[o];
      const w = o * taps;
      let at = inRow + start[o] * channels;
      if (channels === 3) {
        let r = ROUNDING, g = ROUNDING, b = ROUNDING;
        for (let i = 0; i < n; i++, at += 3) {
          const k = weights[w + i];
          r += input[at] * k;
          g += input[at + 1] * k;
          b += input[at + 2] * k;
        }
        output[out++] = clip8(r);
        output[out++] = clip8(g);
        output[out++] = clip8(b);
      } else {
        for (let c = 0; c < channels; c++) {
          let sum = ROUNDING;
          for (let i = 0; i < n; i++) sum += input[at + i * channels + c] * weights[w + i];
          output[out++] = clip8(sum);
        }
      }
    }
  }
}

/**
 * The vertical pass: rows of `rowBytes` bytes to as many rows as `coefficients` has outputs, each summed
 * along whole input rows into one row of int32 sums (in memory order, unlike a column at a time).
 */
function resampleColumns(
  input: Uint8Array,
  output: Uint8Array,
  coefficients: AxisCoefficients,
  rowBytes: number,
): void {
  const { start, count, weights, taps } = coefficients;
  const sums = new Int32Array(rowBytes);
  for (let o = 0; o < start.length; o++) {
    sums.fill(ROUNDING);
    for (let i = 0; i < count[o]; i++) {
      const k = weights[o * taps + i];
      const row = (start[o] + i) * rowBytes;
      for (let x = 0; x < rowBytes; x++) sums[x] += input[row + x] * k;
    }
    const out = o * rowBytes;
    for (let x = 0; x < rowBytes; x++) output[out + x] = clip8(sums[x]);
  }
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel, rows top to bottom) as PIL does: a horizontal
 * pass rounded to bytes, then a vertical one, each skipped when its side does not change.
 */
export function resamplePixels(
  data: Uint8Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
  channels: number,
): Uint8Array {
  let pixels = data;
  if (to.width !== from.width) {
    const out = new Uint8Array(from.height * to.width * channels);
    resampleRows(pixels, out, axisCoefficients(from.width, to.width), from.height, from.width, channels);
    pixels = out;
  }
  if (to.height !== from.height) {
    const rowBytes = to.width * channels;
    const out = new Uint8Array(to.height * rowBytes);
    resampleColumns(pixels, out, axisCoefficients(from.height, to.height), rowBytes);
    pixels = out;
  }
  return pixels === data ? data.slice() : pixels;
}
