/**
 * The `Vec` type the vectorised shaders (batch norm, global average pool) are composed after: four values
 * where a plane's size is a multiple of 4, else one.
 *
 * @module
 */

import vec4Source from "../../shaders/vec4.wgsl" with { type: "text" };
import vec1Source from "../../shaders/vec1.wgsl" with { type: "text" };

/** Values per `Vec` for planes of `spatial` values: 4 when it divides them, else 1. */
export function vectorWidth(spatial: number): 1 | 4 {
  return spatial % 4 === 0 ? 4 : 1;
}

/** The WGSL file that defines `Vec`, `WIDTH`, `lanes_sum` and `first_lane` for `width`. */
export function vectorSource(width: 1 | 4): string {
  return width === 4 ? vec4Source : vec1Source;
}
