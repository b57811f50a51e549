// The transforms of Winograd F(4x4, 3x3) that the input-transform dispatch makes (see
// conv2d_winograd_input.wgsl and conv2d_winograd_filter.wgsl), 6x6 results stored at xi = 6 * a + b, with
// the interpolation points 0, 1, -1, 2, -2 and infinity:
// - input, B^T d B with B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
//   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
// - filter, G g G^T with G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6], [1/24, 1/12, 1/6],
//   [1/24, -1/12, 1/6], [0, 0, 1]].

// B^T d for six values d.
fn input_points(d: array<f32, 6>) -> array<f32, 6> {
  return array<f32, 6>(
    4.0 * d[0] - 5.0 * d[2] + d[4],
    d[3] + d[4] - 4.0 * (d[1] + d[2]),
    d[4] - d[3] + 4.0 * (d[1] - d[2]),
    d[4] - d[2] + 2.0 * (d[3] - d[1]),
    d[4] - d[2] + 2.0 * (d[1] - d[3]),
    4.0 * d[1] - 5.0 * d[3] + d[5],
  );
}

// Stores V of the 6x6 patch at `corner` (row, column) of the plane from `base` at i + xi * stride.
fn transform_patch(i: u32, stride: u32, base: u32, corner: vec2i, valid: bool) {
  var rows: array<array<f32, 6>, 6>; // row r: d[r] B
  for (var r = 0; r < 6; r++) {
    let y = corner.x + r;
    let x = corner.y;
    rows[r] = input_points(array<f32, 6>(
      at(base, y, x, valid), at(base, y, x + 1, valid), at(base, y, x + 2, valid),
      at(base, y, x + 3, valid), at(base, y, x + 4, valid), at(base, y, x + 5, valid),
    ));
  }
  for (var b = 0u; b < 6u; b++) {
    let column = input_points(array<f32, 6>(rows[0][b], rows[1][b], rows[2][b], rows[3][b], rows[4][b], rows[5][b]));
    for (var a = 0u; a < 6u; a++) {
      transformed[V_AT + i + (6u * a + b) * stride] = column[a];
    }
  }
}

// G t for three values t.
fn filter_points(t: vec3f) -> array<f32, 6> {
  return array<f32, 6>(
    0.25 * t.x,
    -(t.x + t.y + t.z) / 6.0,
    -(t.x - t.y + t.z) / 6.0,
    t.x / 24.0 + t.y / 12.0 + t.z / 6.0,
    t.x / 24.0 - t.y / 12.0 + t.z / 6.0,
    t.z,
  );
}

// Stores U of the kernel with rows g0, g1, g2 at i + xi * stride.
fn transform_kernel(i: u32, stride: u32, g0: vec3f, g1: vec3f, g2: vec3f) {
  let rows = array<vec3f, 6>( // the rows of G g
    0.25 * g0,
    -(g0 + g1 + g2) / 6.0,
    -(g0 - g1 + g2) / 6.0,
    g0 / 24.0 + g1 / 12.0 + g2 / 6.0,
    g0 / 24.0 - g1 / 12.0 + g2 / 6.0,
    g2,
  );
  for (var a = 0u; a < 6u; a++) {
    let points = filter_points(rows[a]);
    for (var b = 0u; b < 6u; b++) {
      transformed[i + (6u * a + b) * stride] = points[b];
    }
  }
}
