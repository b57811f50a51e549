// The output transform of Winograd F(4x4, 3x3) (see conv2d_winograd_output.wgsl): A^T m A for the 6x6
// m at xi = 6 * a + b, with A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
// [0, 1, -1, 8, -8, 1]].

// A^T v for six values v.
fn output_points(v: array<f32, 6>) -> vec4f {
  let sum12 = v[1] + v[2];
  let difference12 = v[1] - v[2];
  let sum34 = v[3] + v[4];
  let difference34 = v[3] - v[4];
  return vec4f(
    v[0] + sum12 + sum34,
    difference12 + 2.0 * difference34,
    sum12 + 4.0 * sum34,
    difference12 + 8.0 * difference34 + v[5],
  );
}

// Stores the 4x4 pixels of m at i + xi * stride, the first at `o`, of the tile at `origin` (row, column).
fn transform_tile(i: u32, stride: u32, o: u32, origin: vec2u, a: Affine) {
  var rows: array<vec4f, 6>; // row r: m[r] A
  for (var r = 0u; r < 6u; r++) {
    let at = i + 6u * r * stride;
    rows[r] = output_points(array<f32, 6>(
      m[at], m[at + stride], m[at + 2u * stride], m[at + 3u * stride], m[at + 4u * stride], m[at + 5u * stride],
    ));
  }
  for (var x = 0u; x < 4u; x++) {
    let column = output_points(array<f32, 6>(rows[0][x], rows[1][x], rows[2][x], rows[3][x], rows[4][x], rows[5][x]));
    for (var y = 0u; y < 4u; y++) {
      store_pixel(o, origin, y, x, column[y], a);
    }
  }
}
