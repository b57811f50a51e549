// Winograd output transform: the TILE x TILE output pixels of tile TILE_OFFSET + col in channel k are
// A^T m A for the (TILE + 2)-square m[xi, k, col], A^T being in conv2d_winograd_output_f2.wgsl or
// conv2d_winograd_output_f4.wgsl (`transform_tile`); pixels past the image's edge are dropped.
// Entry points main, main_bias and main_norm: the three sources of conv2d_epilogue.wgsl, which follows.
// Prepended: conv2d_winograd_tiles.wgsl and one of the two above.

@group(0) @binding(0) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

// Stores output pixel (y, x) of the tile whose first pixel is `o`, through the epilogue with `a`, if it is
// inside the image.
fn store_pixel(o: u32, origin: vec2u, y: u32, x: u32, value: f32, a: Affine) {
  if (origin.x + y < HEIGHT && origin.y + x < WIDTH) {
    let index = o + y * WIDTH + x;
    result[index] = epilogue(value, a, index);
  }
}

// Output pixels of invocation i, through the epilogue with `a`.
fn transform(i: u32, a: Affine) {
  let tile = TILE_OFFSET + i % COLS;
  if (tile >= TILES) {
    return;
  }
  let origin = tile_origin(tile);
  let o = (origin.x * CHANNELS + i / COLS) * HEIGHT * WIDTH + origin.y * WIDTH + origin.z;
  transform_tile(i, CHANNELS * COLS, o, origin.yz, a);
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
