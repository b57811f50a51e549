// The transforms of Winograd F(2x2, 3x3) that the input-transform dispatch makes (see
// conv2d_winograd_input.wgsl and conv2d_winograd_filter.wgsl), 4x4 results stored at xi = 4 * a + b:
// - input, B^T d B with B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]];
// - filter, G g G^T with G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].

fn patch_row(base: u32, y: i32, x0: i32, valid: bool) -> vec4f {
  return vec4f(at(base, y, x0, valid), at(base, y, x0 + 1, valid), at(base, y, x0 + 2, valid),
               at(base, y, x0 + 3, valid));
}

// Writes row a of the result, (r B) for the row r of B^T d, at index o + 4 * a * stride.
fn store_row(o: u32, stride: u32, r: vec4f) {
  transformed[V_AT + o] = r.x - r.z;
  transformed[V_AT + o + stride] = r.y + r.z;
  transformed[V_AT + o + 2u * stride] = r.z - r.y;
  transformed[V_AT + o + 3u * stride] = r.y - r.w;
}

// Stores V of the 4x4 patch at `corner` (row, column) of the plane from `base` at i + xi * stride.
fn transform_patch(i: u32, stride: u32, base: u32, corner: vec2i, valid: bool) {
  let d0 = patch_row(base, corner.x, corner.y, valid);
  let d1 = patch_row(base, corner.x + 1, corner.y, valid);
  let d2 = patch_row(base, corner.x + 2, corner.y, valid);
  let d3 = patch_row(base, corner.x + 3, corner.y, valid);
  store_row(i, stride, d0 - d2);
  store_row(i + 4u * stride, stride, d1 + d2);
  store_row(i + 8u * stride, stride, d2 - d1);
  store_row(i + 12u * stride, stride, d1 - d3);
}

// Writes row a of the result, (t G^T) for the row t of G g, at index o + 4 * a * stride.
fn store_filter_row(o: u32, stride: u32, t: vec3f) {
  transformed[o] = t.x;
  transformed[o + stride] = 0.5 * (t.x + t.y + t.z);
  transformed[o + 2u * stride] = 0.5 * (t.x - t.y + t.z);
  transformed[o + 3u * stride] = t.z;
}

// Stores U of the kernel with rows g0, g1, g2 at i + xi * stride.
fn transform_kernel(i: u32, stride: u32, g0: vec3f, g1: vec3f, g2: vec3f) {
  store_filter_row(i, stride, g0);
  store_filter_row(i + 4u * stride, stride, 0.5 * (g0 + g1 + g2));
  store_filter_row(i + 8u * stride, stride, 0.5 * (g0 - g1 + g2));
  store_filter_row(i + 12u * stride, stride, g2);
}
