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
 * Resamples `lines` lines of pixels of `channels` bytes along one axis, whose neighbouring pixels lie
 * `stride` bytes apart in input and output; consecutive lines start `inLineStride` bytes apart in the input
 * and `outLineStride` in the output.
 */
function resampleAxis(
  input: Uint8Array,
  output: Uint8Array,
  coefficients: AxisCoefficients,
  layout: { lines: number; inLineStride: number; outLineStride: number; stride: number; channels: number },
): void {
  const { start, count, weights, taps } = coefficients;
  const { lines, inLineStride, outLineStride, stride, channels } = layout;
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < start.length; o++) {
      for (let c = 0; c < channels; c++) {
        let sum = ROUNDING;
        const from = line * inLineStride + start[o] * stride + c;
        for (let i = 0; i < count[o]; i++) sum += input[from + i * stride] * weights[o * taps + i];
        output[line * outLineStride + o * stride + c] = clip8(sum);
      }
    }
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
    resampleAxis(pixels, out, axisCoefficients(from.width, to.width), {
      lines: from.height,
      inLineStride: from.width * channels,
      outLineStride: to.width * channels,
      stride: channels,
      channels,
    });
    pixels = out;
  }
  if (to.height !== from.height) {
    const rowBytes = to.width * channels;
    const out = new Uint8Array(to.height * rowBytes);
    // A column of the image is a line whose pixels lie a row apart; columns are one pixel apart.
    resampleAxis(pixels, out, axisCoefficients(from.height, to.height), {
      lines: to.width,
      inLineStride: channels,
      outLineStride: channels,
      stride: rowBytes,
      channels,
    });
    pixels = out;
  }
  return pixels === data ? data.slice() : pixels;
}
