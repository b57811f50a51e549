// Winograd input transform: v[xi, c, col] = (B^T d B)[xi] for the (TILE + 2)-square patch d of channel c
// that tile TILE_OFFSET + col reads, xi = (TILE + 2) * a + b; B^T is in conv2d_winograd_input_f2.wgsl or
// conv2d_winograd_input_f4.wgsl, which define `transform_patch` and `transform_kernel`. The patch starts
// one row and one column before the tile's output pixels and is zero outside the image (padding 1); tiles
// past the last are zeros. V lies at V_AT in `transformed`, after U. The first dispatch of an op also
// transforms the filter (FILTER_INVOCATIONS = ROWS * DEPTH invocations before the input's); the others
// leave it at 0.
// Prepended: conv2d_winograd_tiles.wgsl, conv2d_winograd_filter.wgsl and one of the two above.

override V_AT: u32; // first float of V in `transformed`
override FILTER_INVOCATIONS: u32 = 0u;

@group(0) @binding(0) var<storage, read> source: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> transformed: array<f32>;

// The value at row y, column x of the plane from `base`: zero outside the image, or for a tile that is not
// `valid`.
fn at(base: u32, y: i32, x: i32, valid: bool) -> f32 {
  let inside = valid && u32(y) < HEIGHT && u32(x) < WIDTH;
  return select(0.0, source[base + u32(select(0, y * i32(WIDTH) + x, inside))], inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let invocation = gid.x + gid.y * nwg.x * WG;
  if (invocation < FILTER_INVOCATIONS) {
    filter_transform(invocation);
    return;
  }
  let i = invocation - FILTER_INVOCATIONS;
  if (i >= CHANNELS * COLS) {
    return;
  }
  let c = i / COLS;
  let tile = TILE_OFFSET + i % COLS;
  let origin = tile_origin(min(tile, TILES - 1u));
  let base = (origin.x * CHANNELS + c) * HEIGHT * WIDTH;
  let corner = vec2i(i32(origin.y) - 1, i32(origin.z) - 1);
  transform_patch(i, CHANNELS * COLS, base, corner, tile < TILES);
}
