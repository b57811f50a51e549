// Winograd F(2x2, 3x3) output transform: the 2x2 output pixels of tile TILE_OFFSET + col in channel k are
// A^T m A for the 4x4 m[xi, k, col], xi = 4 * a + b, where A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]; pixels
// past an odd edge are dropped.
// Entry points main, main_bias and main_norm: the three sources of conv2d_epilogue.wgsl, which follows.
// Prepended: conv2d_winograd_tiles.wgsl.

@group(0) @binding(0) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

fn m_row(o: u32, stride: u32) -> vec4f {
  return vec4f(m[o], m[o + stride], m[o + 2u * stride], m[o + 3u * stride]);
}

// Output pixels of invocation i, through the epilogue with `a`.
fn transform(i: u32, a: Affine) {
  let col = i % COLS;
  let k = i / COLS;
  let tile = TILE_OFFSET + col;
  if (tile >= TILES) {
    return;
  }
  let stride = CHANNELS * COLS;
  let m0 = m_row(i, stride);
  let m1 = m_row(i + 4u * stride, stride);
  let m2 = m_row(i + 8u * stride, stride);
  let m3 = m_row(i + 12u * stride, stride);
  let s0 = m0 + m1 + m2;
  let s1 = m1 - m2 - m3;
  let origin = tile_origin(tile);
  let oy = origin.y;
  let ox = origin.z;
  let o = (origin.x * CHANNELS + k) * HEIGHT * WIDTH + oy * WIDTH + ox;
  let right = ox + 1u < WIDTH;
  result[o] = epilogue(s0.x + s0.y + s0.z, a, o);
  if (right) {
    result[o + 1u] = epilogue(s0.y - s0.z - s0.w, a, o + 1u);
  }
  if (oy + 1u < HEIGHT) {
    result[o + WIDTH] = epilogue(s1.x + s1.y + s1.z, a, o + WIDTH);
    if (right) {
      result[o + WIDTH + 1u] = epilogue(s1.y - s1.z - s1.w, a, o + WIDTH + 1u);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < CHANNELS * COLS) {
    transform(i, plain_affine(i / COLS));
  }
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < CHANNELS * COLS) {
    transform(i, bias_affine(i / COLS));
  }
}

@compute @workgroup_size(WG)
fn main_norm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < CHANNELS * COLS) {
    transform(i, norm_affine(i / COLS));
  }
}
