/**
 * The shapes of the synthetic data set as signed distance functions, apart from the drawing so that tests
 * can check the geometry itself.
 *
 * @module
 */

// From 2 (a pentagon) to 5 (the thinnest points); 3 looks like a drawn star.
const STAR_SHARPNESS = 3;

/** Signed distance from a point (pixels, in the shape's own frame) to a shape's outline, negative inside. */
export type Distance = (x: number, y: number) => number;

/**
 * Signed distance (pixels, negative inside) to each shape in its own centred, unrotated frame, for a shape
 * of radius `r` and stroke `w`. Exact or 1-Lipschitz, so that `0.5 - distance` is a one-pixel coverage
 * ramp whatever the image size. Shapes are keyed by class name, in label order.
 *
 * @example
 * ```ts
 * import { SHAPES } from "./_shapes.ts";
 * const ring = SHAPES.ring(10, 2);
 * console.log(ring(9, 0) < 0, ring(0, 0) > 0); // true true: on the stroke, in the hole
 * ```
 */
export const SHAPES: Readonly<Record<string, (r: number, w: number) => Distance>> = {
  circle: (r) => (x, y) => Math.sqrt(x * x + y * y) - r,
  ring: (r, w) => (x, y) => Math.abs(Math.sqrt(x * x + y * y) - (r - w / 2)) - w / 2,
  square: (r) => (x, y) => box(x, y, 0.8 * r, 0.8 * r),
  frame: (r, w) => (x, y) => Math.max(box(x, y, 0.8 * r, 0.8 * r), -box(x, y, 0.8 * r - w, 0.8 * r - w)),
  // Equilateral, circumradius r: three edges at distance r / 2 from the centre.
  triangle: (r) => (x, y) => Math.max(-y - r / 2, (Math.sqrt(3) / 2) * Math.abs(x) + y / 2 - r / 2),
  // A disc with an off-centre bite. (The Python generator's diagonal cross is its plus rotated by 45
  // degrees, which random rotation makes the same class, so this shape replaces it.)
  crescent: (r) => (x, y) =>
    Math.max(Math.sqrt(x * x + y * y) - r, 0.85 * r - Math.sqrt((x - 0.4 * r) ** 2 + y * y)),
  plus: (r, w) => (x, y) =>
    Math.max(Math.min(Math.abs(x), Math.abs(y)) - w, Math.max(Math.abs(x), Math.abs(y)) - r),
  bar: (r, w) => (x, y) => box(x, y, w, r),
  "two-bars": (r, w) => (x, y) => box(Math.abs(x) - 0.45 * r, y, 0.8 * w, r),
  star: (r) => {
    // Inigo Quilez's exact star distance: fold the point into one half of one of the five sectors, then
    // measure to the edge running from the outer tip inwards.
    const sector = Math.PI / 5;
    const tipX = r * Math.cos(sector);
    const tipY = r * Math.sin(sector);
    const edgeX = Math.cos(Math.PI / STAR_SHARPNESS);
    const edgeY = Math.sin(Math.PI / STAR_SHARPNESS);
    const edgeLength = tipY / edgeY;
    return (x, y) => {
      const d = Math.sqrt(x * x + y * y);
      const angle = (Math.atan2(Math.abs(x), y) % (2 * sector)) - sector;
      let px = d * Math.cos(angle) - tipX;
      let py = d * Math.abs(Math.sin(angle)) - tipY;
      const t = Math.min(Math.max(-(px * edgeX + py * edgeY), 0), edgeLength);
      px += edgeX * t;
      py += edgeY * t;
      return Math.sign(px) * Math.sqrt(px * px + py * py);
    };
  },
};

/** Signed distance to the rectangle of half-sides `hx` and `hy` centred at the origin. */
function box(x: number, y: number, hx: number, hy: number): number {
  const qx = Math.abs(x) - hx;
  const qy = Math.abs(y) - hy;
  const ox = Math.max(qx, 0);
  const oy = Math.max(qy, 0);
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
}

/**
 * The farthest any shape reaches from its centre (two-bars' corners at the widest stroke), in radii.
 *
 * @example
 * ```ts
 * import { SHAPE_REACH, SHAPES } from "./_shapes.ts";
 * console.log(SHAPES.circle(10, 2)(SHAPE_REACH * 10, 0) > 0); // true: outside
 * ```
 */
export const SHAPE_REACH = 1.3;
