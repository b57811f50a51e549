// Winograd backward-weight of a 3x3 stride-1 padding-1 convolution: grad_weight[k, c] = G^T M[k, c] G
// with M[xi, k, c] = sum over tiles t of (A dy_t A^T)[xi] * (B^T d_t B)[xi], dy_t the TILE x TILE
// grad_output pixels of output channel k in tile t and d_t the (TILE + 2)-square input patch of channel c
// that the forward pass read for them (the transpose of the forward transforms: y = A^T (U * V) A with
// U = G g G^T). A, B and G are in conv2d_winograd_input_f2.wgsl and conv2d_winograd_weight_f2.wgsl (or
// their f4 twins), which define `transform_patch`, `transform_gradient` and `kernel_gradient`.
// Entry points:
// - main, the transforms of one chunk of COLS tiles from TILE_OFFSET on: the first OUT_CHANNELS * COLS
//   invocations store A dy A^T at [xi, k, col] from the start of `transformed`, the next CHANNELS * COLS
//   store B^T d B at [xi, col, c] from V_AT, so that the GEMMs M[xi] (+)= (A dy A^T)[xi] (B^T d B)[xi] read
//   both as conv2d_winograd_gemm.wgsl's u and v; tiles past the last are zeros.
// - main_kernel, after the GEMMs of every chunk: one invocation per (k, c) turns M into grad_weight.
// Prepended: conv2d_winograd_tiles.wgsl, one of conv2d_winograd_input_f2/_f4.wgsl and one of
// conv2d_winograd_weight_f2/_f4.wgsl.

override V_AT: u32; // first float of B^T d B in `transformed`
override OUT_CHANNELS: u32;

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read_write> transformed: array<f32>;
@group(0) @binding(3) var<storage, read> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_weight: array<f32>;

// The input at row y, column x of the plane from `base`: zero outside the image (padding 1), or for a tile
// that is not `valid`.
fn at(base: u32, y: i32, x: i32, valid: bool) -> f32 {
  let inside = valid && u32(y) < HEIGHT && u32(x) < WIDTH;
  return select(0.0, input[base + u32(select(0, y * i32(WIDTH) + x, inside))], inside);
}

// The gradient of output pixel (y, x) of the plane from `base`: zero past the image's edge, or for a tile
// that is not `valid`.
fn gradient_at(base: u32, y: u32, x: u32, valid: bool) -> f32 {
  let inside = valid && y < HEIGHT && x < WIDTH;
  return select(0.0, grad_output[base + select(0u, y * WIDTH + x, inside)], inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let invocation = gid.x + gid.y * nwg.x * WG;
  let gradients = OUT_CHANNELS * COLS;
  let is_gradient = invocation < gradients;
  let i = select(invocation - gradients, invocation, is_gradient);
  if (i >= select(CHANNELS, OUT_CHANNELS, is_gradient) * COLS) {
    return;
  }
  // Neighbours take neighbouring columns of the gradients and neighbouring channels of the input, so that
  // both store side by side.
  let channel = select(i % CHANNELS, i / COLS, is_gradient);
  let column = select(i / CHANNELS, i % COLS, is_gradient);
  let tile = TILE_OFFSET + column;
  let origin = tile_origin(min(tile, TILES - 1u));
  if (is_gradient) {
    let base = (origin.x * OUT_CHANNELS + channel) * HEIGHT * WIDTH;
    transform_gradient(i, gradients, base, origin.yz, tile < TILES);
    return;
  }
  let base = (origin.x * CHANNELS + channel) * HEIGHT * WIDTH;
  let corner = vec2i(i32(origin.y) - 1, i32(origin.z) - 1);
  transform_patch(i, CHANNELS * COLS, base, corner, tile < TILES);
}

@compute @workgroup_size(WG)
fn main_kernel(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < OUT_CHANNELS * CHANNELS) {
    kernel_gradient(i, OUT_CHANNELS * CHANNELS);
  }
}
