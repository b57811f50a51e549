// The backward-weight transforms of Winograd F(2x2, 3x3) (see conv2d_winograd_weight.wgsl), 4x4 points
// at xi = 4 * a + b: A dy A^T of the 2x2 gradients dy, with A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], and
// G^T m G of the 4x4 m, with G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].

// A v for two values v.
fn gradient_points(v: vec2f) -> vec4f {
  return vec4f(v.x, v.x + v.y, v.x - v.y, -v.y);
}

// Stores A dy A^T of the 2x2 gradients at `origin` (row, column) of the plane from `base` at
// i + xi * stride.
fn transform_gradient(i: u32, stride: u32, base: u32, origin: vec2u, valid: bool) {
  let d0 = vec2f(gradient_at(base, origin.x, origin.y, valid), gradient_at(base, origin.x, origin.y + 1u, valid));
  let d1 = vec2f(gradient_at(base, origin.x + 1u, origin.y, valid),
                 gradient_at(base, origin.x + 1u, origin.y + 1u, valid));
  let rows = array<vec2f, 4>(d0, d0 + d1, d0 - d1, -d1); // the rows of A dy
  for (var a = 0u; a < 4u; a++) {
    let points = gradient_points(rows[a]);
    for (var b = 0u; b < 4u; b++) {
      transformed[i + (4u * a + b) * stride] = points[b];
    }
  }
}

// G^T w for four values w.
fn kernel_points(w: vec4f) -> vec3f {
  return vec3f(w.x + 0.5 * (w.y + w.z), 0.5 * (w.y - w.z), 0.5 * (w.y + w.z) + w.w);
}

// Stores G^T m G of the m at i + xi * stride as the 3x3 kernel gradient i.
fn kernel_gradient(i: u32, stride: u32) {
  var rows: array<vec3f, 4>; // row a: m[a] G
  for (var a = 0u; a < 4u; a++) {
    let at = i + 4u * a * stride;
    rows[a] = kernel_points(vec4f(m[at], m[at + stride], m[at + 2u * stride], m[at + 3u * stride]));
  }
  for (var x = 0u; x < 3u; x++) {
    let column = kernel_points(vec4f(rows[0][x], rows[1][x], rows[2][x], rows[3][x]));
    for (var y = 0u; y < 3u; y++) {
      grad_weight[9u * i + 3u * y + x] = column[y];
    }
  }
}
