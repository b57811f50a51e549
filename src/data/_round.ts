/**
 * Python's `round` of a float: halves go to the even neighbour. torchvision's crop arithmetic rounds
 * this way, and JavaScript's `Math.round` (halves up) would move a centre crop of an odd margin by a pixel.
 *
 * @module
 */

/** `x` rounded to the nearest integer, halves to the even one (`round(2.5)` is 2, `round(3.5)` is 4). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction !== 0.5) return fraction < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}
