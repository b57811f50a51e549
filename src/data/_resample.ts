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

/** Half of the last fixed-point unit: Pillow starts every sum there, so that the shift rounds. */
const ROUNDING = 1 << (PRECISION_BITS - 1);

/*
 * The two passes. Sums are exact in int32 (at most 255 * 2^22 plus the rounding), so they equal Pillow's
 * whatever the order of their terms. Pillow clips each sum's byte (`clip8`); the triangle has no negative
 * lobe and the weights of a pixel sum to 2^22 within a few units, so the byte is always 0..255 and a
 * shift is the clip. Three-tap pixels (every shrink by less than 1.5x) are written out unrolled: the
 * general loop's bookkeeping costs more than its three multiply-adds.
 */

/**
 * The horizontal pass over `rows.count` rows of `inWidth` pixels of `channels` bytes, from row
 * `rows.first`, to the output columns `left` to `left + width` of `coefficients`.
 */
function resampleRows(
  input: Uint8Array,
  coefficients: AxisCoefficients,
  rows: { first: number; count: number },
  inWidth: number,
  columns: { left: number; width: number },
  channels: number,
): Uint8Array {
  const { start, count, weights, taps } = coefficients;
  const { left, width } = columns;
  const output = new Uint8Array(rows.count * width * channels);
  let out = 0;
  for (let line = 0; line < rows.count; line++) {
    const inRow = (rows.first + line) * inWidth * channels;
    for (let o = left; o < left + width; o++) {
      const n = count[o];
      const w = o * taps;
      let at = inRow + start[o] * channels;
      if (channels === 3 && n === 3) {
        const k0 = weights[w], k1 = weights[w + 1], k2 = weights[w + 2];
        output[out++] = (ROUNDING + input[at] * k0 + input[at + 3] * k1 + input[at + 6] * k2) >>
          PRECISION_BITS;
        output[out++] = (ROUNDING + input[at + 1] * k0 + input[at + 4] * k1 + input[at + 7] * k2) >>
          PRECISION_BITS;
        output[out++] = (ROUNDING + input[at + 2] * k0 + input[at + 5] * k1 + input[at + 8] * k2) >>
          PRECISION_BITS;
      } else if (channels === 3) {
        let r = ROUNDING, g = ROUNDING, b = ROUNDING;
        for (let i = 0; i < n; i++, at += 3) {
          const k = weights[w + i];
          r = (r + input[at] * k) | 0;
          g = (g + input[at + 1] * k) | 0;
          b = (b + input[at + 2] * k) | 0;
        }
        output[out++] = r >> PRECISION_BITS;
        output[out++] = g >> PRECISION_BITS;
        output[out++] = b >> PRECISION_BITS;
      } else {
        for (let c = 0; c < channels; c++) {
          let sum = ROUNDING;
          for (let i = 0; i < n; i++) sum = (sum + input[at + i * channels + c] * weights[w + i]) | 0;
          output[out++] = sum >> PRECISION_BITS;
        }
      }
    }
  }
  return output;
}

/**
 * The vertical pass: rows of `rowBytes` bytes, the first of them input row `firstLine`, to the output
 * rows `top` to `top + height` of `coefficients`, a row at a time in memory order.
 */
function resampleColumns(
  input: Uint8Array,
  coefficients: AxisCoefficients,
  firstLine: number,
  rowBytes: number,
  rows: { top: number; height: number },
): Uint8Array {
  const { start, count, weights, taps } = coefficients;
  const output = new Uint8Array(rows.height * rowBytes);
  for (let o = rows.top; o < rows.top + rows.height; o++) {
    const n = count[o];
    const w = o * taps;
    const row = (start[o] - firstLine) * rowBytes;
    let out = (o - rows.top) * rowBytes;
    if (n === 3) {
      const k0 = weights[w], k1 = weights[w + 1], k2 = weights[w + 2];
      for (let x = row, end = row + rowBytes; x < end; x++) {
        output[out++] =
          (ROUNDING + input[x] * k0 + input[x + rowBytes] * k1 + input[x + 2 * rowBytes] * k2) >>
          PRECISION_BITS;
      }
    } else {
      for (let x = row, end = row + rowBytes; x < end; x++) {
        let sum = ROUNDING;
        for (let i = 0, at = x; i < n; i++, at += rowBytes) sum = (sum + input[at] * weights[w + i]) | 0;
        output[out++] = sum >> PRECISION_BITS;
      }
    }
  }
  return output;
}

/** The output pixels of an image resized to a size that a caller keeps: the rest is never computed. */
export interface ResampleWindow {
  /** First row. */
  top: number;
  /** First column. */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel, rows top to bottom) as PIL does, a horizontal
 * pass rounded to bytes, then a vertical one, each skipped when its side does not change, and returns the
 * `window` of the result (by default all of it). Only the window's pixels, and the input rows they read,
 * are computed (as Pillow's horizontal pass reads only the rows its vertical pass needs): each output
 * pixel depends on its own weights alone, so the window's bytes equal those of the whole resized image.
 */
export function resamplePixels(
  data: Uint8Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
  channels: number,
  window: ResampleWindow = { top: 0, left: 0, width: to.width, height: to.height },
): Uint8Array {
  const { top, left, width, height } = window;
  const rows = to.height !== from.height ? axisCoefficients(from.height, to.height) : undefined;
  const first = rows ? rows.start[top] : top;
  const last = rows ? rows.start[top + height - 1] + rows.count[top + height - 1] : top + height;
  const lines = { first, count: last - first };
  const narrowed = to.width !== from.width
    ? resampleRows(data, axisCoefficients(from.width, to.width), lines, from.width, window, channels)
    : copyWindow(data, from.width * channels, lines, left * channels, width * channels);
  if (!rows) return narrowed;
  return resampleColumns(narrowed, rows, first, width * channels, window);
}

/** Bytes `offset` to `offset + bytes` of each of the given rows of `rowBytes` bytes. */
function copyWindow(
  data: Uint8Array,
  rowBytes: number,
  rows: { first: number; count: number },
  offset: number,
  bytes: number,
): Uint8Array {
  const out = new Uint8Array(rows.count * bytes);
  for (let y = 0; y < rows.count; y++) {
    const from = (rows.first + y) * rowBytes + offset;
    out.set(data.subarray(from, from + bytes), y * bytes);
  }
  return out;
}
