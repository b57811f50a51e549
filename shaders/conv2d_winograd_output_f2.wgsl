// The output transform of Winograd F(2x2, 3x3) (see conv2d_winograd_output.wgsl): A^T m A for the 4x4
// m at xi = 4 * a + b, with A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].

fn m_row(o: u32, stride: u32) -> vec4f {
  return vec4f(m[o], m[o + stride], m[o + 2u * stride], m[o + 3u * stride]);
}

// Stores the 2x2 pixels of m at i + xi * stride, the first at `o`, of the tile at `origin` (row, column).
fn transform_tile(i: u32, stride: u32, o: u32, origin: vec2u, a: Affine) {
  let m0 = m_row(i, stride);
  let m1 = m_row(i + 4u * stride, stride);
  let m2 = m_row(i + 8u * stride, stride);
  let m3 = m_row(i + 12u * stride, stride);
  let s0 = m0 + m1 + m2;
  let s1 = m1 - m2 - m3;
  store_pixel(o, origin, 0u, 0u, s0.x + s0.y + s0.z, a);
  store_pixel(o, origin, 0u, 1u, s0.y - s0.z - s0.w, a);
  store_pixel(o, origin, 1u, 0u, s1.x + s1.y + s1.z, a);
  store_pixel(o, origin, 1u, 1u, s1.y - s1.z - s1.w, a);
}
