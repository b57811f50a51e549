/**
 * An independent, torchvision-shaped reference of one training transform, in float64: pad (zero or
 * reflect), crop, flip, ToTensor + Normalize, then Cutout. The pipelines compute the same thing per output
 * element without materialising the padded image.
 */

/** The random choices of one sample. */
export interface AugmentChoice {
  /** Crop's top row in the padded image, 0..2 * padding. */
  top: number;
  /** Crop's left column in the padded image. */
  left: number;
  /** Whether the crop is mirrored. */
  flip: boolean;
  /** Cutout centre row (ignored without Cutout). */
  cutY: number;
  /** Cutout centre column. */
  cutX: number;
}

/** The transform's settings. */
export interface ReferenceSettings {
  channels: number;
  height: number;
  width: number;
  padding: number;
  reflect: boolean;
  cutout: number;
  mean: readonly number[];
  std: readonly number[];
}

/** numpy's `np.pad(mode="reflect")` index for padding smaller than the side. */
function reflect(i: number, n: number): number {
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

/** One CHW image transformed in float64. */
export function referenceAugment(
  image: Uint8Array,
  s: ReferenceSettings,
  choice: AugmentChoice,
): Float64Array {
  const { channels, height, width, padding: p } = s;
  const ph = height + 2 * p, pw = width + 2 * p;
  const out = new Float64Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    const padded = new Float64Array(ph * pw);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        let sy = y - p, sx = x - p;
        if (s.reflect) {
          sy = reflect(sy, height);
          sx = reflect(sx, width);
        }
        const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        padded[y * pw + x] = inside ? image[(c * height + sy) * width + sx] : 0;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const cx = choice.flip ? width - 1 - x : x;
        const value = padded[(y + choice.top) * pw + cx + choice.left];
        out[(c * height + y) * width + x] = (value / 255 - s.mean[c]) / s.std[c];
      }
    }
  }
  if (s.cutout > 0) {
    const half = Math.floor(s.cutout / 2);
    const y1 = Math.min(Math.max(choice.cutY - half, 0), height),
      y2 = Math.min(Math.max(choice.cutY + half, 0), height);
    const x1 = Math.min(Math.max(choice.cutX - half, 0), width),
      x2 = Math.min(Math.max(choice.cutX + half, 0), width);
    for (let c = 0; c < channels; c++) {
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) out[(c * height + y) * width + x] = 0;
    }
  }
  return out;
}
