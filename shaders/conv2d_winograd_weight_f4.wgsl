// The backward-weight transforms of Winograd F(4x4, 3x3) (see conv2d_winograd_weight.wgsl), 6x6 points
// at xi = 6 * a + b: A dy A^T of the 4x4 gradients dy, with A^T = [[1, 1, 1, 1, 1, 0],
// [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], and G^T m G of the 6x6 m, with
// G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6], [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]].

// A v for four values v.
fn gradient_points(v: vec4f) -> array<f32, 6> {
  return array<f32, 6>(
    v.x,
    v.x + v.y + v.z + v.w,
    v.x - v.y + v.z - v.w,
    v.x + 2.0 * v.y + 4.0 * v.z + 8.0 * v.w,
    v.x - 2.0 * v.y + 4.0 * v.z - 8.0 * v.w,
    v.w,
  );
}

// Stores A dy A^T of the 4x4 gradients at `origin` (row, column) of the plane from `base` at
// i + xi * stride.
fn transform_gradient(i: u32, stride: u32, base: u32, origin: vec2u, valid: bool) {
  var rows: array<vec4f, 6>; // row a: (A dy)[a]
  for (var x = 0u; x < 4u; x++) {
    let column = gradient_points(vec4f(
      gradient_at(base, origin.x, origin.y + x, valid), gradient_at(base, origin.x + 1u, origin.y + x, valid),
      gradient_at(base, origin.x + 2u, origin.y + x, valid), gradient_at(base, origin.x + 3u, origin.y + x, valid),
    ));
    for (var a = 0u; a < 6u; a++) {
      rows[a][x] = column[a];
    }
  }
  for (var a = 0u; a < 6u; a++) {
    let points = gradient_points(rows[a]);
    for (var b = 0u; b < 6u; b++) {
      transformed[i + (6u * a + b) * stride] = points[b];
    }
  }
}

// G^T w for six values w.
fn kernel_points(w: array<f32, 6>) -> vec3f {
  let sum12 = w[1] + w[2];
  let sum34 = w[3] + w[4];
  return vec3f(
    0.25 * w[0] - sum12 / 6.0 + sum34 / 24.0,
    (w[2] - w[1]) / 6.0 + (w[3] - w[4]) / 12.0,
    (sum34 - sum12) / 6.0 + w[5],
  );
}

// Stores G^T m G of the m at i + xi * stride as the 3x3 kernel gradient i.
fn kernel_gradient(i: u32, stride: u32) {
  var rows: array<vec3f, 6>; // row a: m[a] G
  for (var a = 0u; a < 6u; a++) {
    let at = i + 6u * a * stride;
    rows[a] = kernel_points(array<f32, 6>(
      m[at], m[at + stride], m[at + 2u * stride], m[at + 3u * stride], m[at + 4u * stride], m[at + 5u * stride],
    ));
  }
  for (var x = 0u; x < 3u; x++) {
    let column = kernel_points(array<f32, 6>(rows[0][x], rows[1][x], rows[2][x], rows[3][x], rows[4][x], rows[5][x]));
    for (var y = 0u; y < 3u; y++) {
      grad_weight[9u * i + 3u * y + x] = column[y];
    }
  }
}
