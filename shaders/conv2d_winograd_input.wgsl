// Winograd F(2x2, 3x3) input transform: v[xi, c, col] = (B^T d B)[xi] for the 4x4 patch d of channel c
// that tile TILE_OFFSET + col reads, where B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
// and xi = 4 * a + b. Tile (n, ty, tx) reads input rows 2ty - 1 .. 2ty + 2 and columns 2tx - 1 .. 2tx + 2,
// zero outside the image (padding 1); tiles past the last are zeros. V lies at V_AT in `transformed`,
// after U. The first dispatch of an op also transforms the filter (FILTER_INVOCATIONS = ROWS * DEPTH
// invocations before the input's); the others leave it at 0.
// Prepended: conv2d_winograd_tiles.wgsl and conv2d_winograd_filter.wgsl.

override V_AT: u32; // first float of V in `transformed`
override FILTER_INVOCATIONS: u32 = 0u;

@group(0) @binding(0) var<storage, read> source: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> transformed: array<f32>;

fn at(base: u32, y: i32, col: i32) -> f32 {
  let inside = u32(y) < HEIGHT && u32(col) < WIDTH;
  return select(0.0, source[base + u32(select(0, y * i32(WIDTH) + col, inside))], inside);
}

fn patch_row(base: u32, y: i32, x0: i32) -> vec4f {
  return vec4f(at(base, y, x0), at(base, y, x0 + 1), at(base, y, x0 + 2), at(base, y, x0 + 3));
}

// Writes row a of the result, (r B) for the row r of B^T d, at index o + 4 * a * stride.
fn store_row(o: u32, stride: u32, r: vec4f) {
  transformed[V_AT + o] = r.x - r.z;
  transformed[V_AT + o + stride] = r.y + r.z;
  transformed[V_AT + o + 2u * stride] = r.z - r.y;
  transformed[V_AT + o + 3u * stride] = r.y - r.w;
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
  let col = i % COLS;
  let c = i / COLS;
  let tile = TILE_OFFSET + col;
  var d0 = vec4f(0.0);
  var d1 = vec4f(0.0);
  var d2 = vec4f(0.0);
  var d3 = vec4f(0.0);
  if (tile < TILES) {
    let origin = tile_origin(tile);
    let y0 = i32(origin.y) - 1;
    let x0 = i32(origin.z) - 1;
    let base = (origin.x * CHANNELS + c) * HEIGHT * WIDTH;
    d0 = patch_row(base, y0, x0);
    d1 = patch_row(base, y0 + 1, x0);
    d2 = patch_row(base, y0 + 2, x0);
    d3 = patch_row(base, y0 + 3, x0);
  }
  let stride = CHANNELS * COLS;
  store_row(i, stride, d0 - d2);
  store_row(i + 4u * stride, stride, d1 + d2);
  store_row(i + 8u * stride, stride, d2 - d1);
  store_row(i + 12u * stride, stride, d1 - d3);
}
