// Convolution forward as an implicit GEMM (appended to conv2d_tile.wgsl, conv2d_tile_shared.wgsl and
// conv2d_geometry.wgsl; followed by conv2d_epilogue.wgsl). For group g the GEMM is
// out[n, g*CG_OUT + row, pixel] = sum over steps (c, ky, kx) of weight[g*CG_OUT + row, c, ky, kx] * x
// where x is what output pixel `pixel` (n, oy, ox) sees through tap (ky, kx) of input channel g*CG_IN + c,
// zero in the padding; the steps run over the live taps only. Rows are output channels, columns are output pixels of the whole batch.
// CHECK_BOUNDS: false when no tap of any pixel reaches the padding.
// Entry points: main, main_bias and main_norm (the epilogue's three sources) tile in registers only;
// main_staged, main_staged_bias and main_staged_norm stage through workgroup memory. Grid: x (spread over x and y) = column tiles, z = row tile + ROW_TILES * group (PACKED:
// row tile over all groups).

override PIXELS: u32 = BATCH * OUT_HW;
override ROW_TILES: u32 = (select(CG_OUT, C_OUT, PACKED) + TILE_ROWS - 1u) / TILE_ROWS;

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

struct Tap {
  offset: i32, // c * IN_HW + dy * IN_W + dx
  dy: i32,
  dx: i32,
}

var<private> channel: array<u32, 16>; // output channel of row i, clamped into the group
var<private> row_valid: array<bool, 16>;
var<private> row_affine: array<Affine, 16>;
var<private> group: u32;
var<private> pixel_at: array<i32, 16>; // input index of column j's tap (0, 0) in the group's channel 0
var<private> iy0: array<i32, 16>;
var<private> ix0: array<i32, 16>;
var<private> out_index: array<u32, 16>; // output index of column j in channel 0
var<private> col_valid: array<bool, 16>;

fn setup_row(i: u32, row: u32) {
  if (setup_packed_row(i, row, C_OUT, CG_OUT)) {
    return;
  }
  row_valid[i] = row < CG_OUT;
  channel[i] = group * CG_OUT + min(row, CG_OUT - 1u);
}

fn setup_col(j: u32, col: u32) {
  col_valid[j] = col < PIXELS;
  let p = min(col, PIXELS - 1u);
  let n = p / OUT_HW;
  let r = p % OUT_HW;
  out_index[j] = n * C_OUT * OUT_HW + r;
  iy0[j] = i32(r / OUT_W) * STRIDE_H - PAD_H;
  ix0[j] = i32(r % OUT_W) * STRIDE_W - PAD_W;
  pixel_at[j] = i32((n * C_IN + group * CG_IN) * IN_HW) + iy0[j] * i32(IN_W) + ix0[j];
}

fn row_value(i: u32, step: u32) -> f32 {
  return weight[channel[i] * CG_IN * KHW + step];
}

fn col_value(j: u32, tap: Tap) -> f32 {
  if (!CHECK_BOUNDS) {
    return input[u32(pixel_at[j] + tap.offset)];
  }
  let inside = u32(iy0[j] + tap.dy) < IN_H && u32(ix0[j] + tap.dx) < IN_W;
  return select(0.0, input[u32(select(0, pixel_at[j] + tap.offset, inside))], inside);
}

fn store(i: u32, j: u32, value: f32) {
  if (row_valid[i] && col_valid[j]) {
    let o = out_index[j] + channel[i] * OUT_HW;
    output[o] = epilogue(value, row_affine[i], o);
  }
}

// Reduction step k runs over (c, live tap) pairs only; its weight step is the tap's place in the kernel.
fn reduction_at(k: u32) -> Reduction {
  let c = k / LIVE_TAPS;
  let t = k % LIVE_TAPS;
  let ky = TAP0_H + t / TAPS_W;
  let kx = TAP0_W + t % TAPS_W;
  let dy = i32(ky) * DIL_H;
  let dx = i32(kx) * DIL_W;
  return Reduction((c * K_H + ky) * K_W + kx, Tap(i32(c * IN_HW) + dy * i32(IN_W) + dx, dy, dx));
}

// First row and column of this workgroup's tile; sets `group` (unless PACKED) and `tile_first_row`.
fn tile_start(wid: vec3u, nwg: vec3u) -> vec2u {
  group = wid.z / ROW_TILES;
  tile_first_row = (wid.z % ROW_TILES) * TILE_ROWS;
  return vec2u(tile_first_row, (wid.x + wid.y * nwg.x) * TILE_COLS);
}

fn accumulate(lid: vec3u, wid: vec3u, nwg: vec3u) {
  let start = tile_start(wid, nwg);
  setup_tile(start.x + lid.y, start.y + lid.x);
  for (var c = 0u; c < CG_IN; c++) {
    for (var ky = TAP0_H; ky < TAP0_H + TAPS_H; ky++) {
      let dy = i32(ky) * DIL_H;
      for (var kx = TAP0_W; kx < TAP0_W + TAPS_W; kx++) {
        let dx = i32(kx) * DIL_W;
        tile_step((c * K_H + ky) * K_W + kx, Tap(i32(c * IN_HW) + dy * i32(IN_W) + dx, dy, dx));
      }
    }
  }
}

fn accumulate_staged(lid: vec3u, wid: vec3u, nwg: vec3u) {
  let start = tile_start(wid, nwg);
  shared_gemm(CG_IN * LIVE_TAPS, lid, start.x, start.y);
}

// The epilogue's coefficients of each row, indexed by constants only (see conv2d_tile.wgsl); rows beyond TM
// have channel 0, so their loads stay in range.
fn load_plain_rows() {
  row_affine = array<Affine, 16>(
    plain_affine(channel[0]), plain_affine(channel[1]), plain_affine(channel[2]), plain_affine(channel[3]),
    plain_affine(channel[4]), plain_affine(channel[5]), plain_affine(channel[6]), plain_affine(channel[7]),
    plain_affine(channel[8]), plain_affine(channel[9]), plain_affine(channel[10]), plain_affine(channel[11]),
    plain_affine(channel[12]), plain_affine(channel[13]), plain_affine(channel[14]), plain_affine(channel[15])
  );
}

fn load_bias_rows() {
  row_affine = array<Affine, 16>(
    bias_affine(channel[0]), bias_affine(channel[1]), bias_affine(channel[2]), bias_affine(channel[3]),
    bias_affine(channel[4]), bias_affine(channel[5]), bias_affine(channel[6]), bias_affine(channel[7]),
    bias_affine(channel[8]), bias_affine(channel[9]), bias_affine(channel[10]), bias_affine(channel[11]),
    bias_affine(channel[12]), bias_affine(channel[13]), bias_affine(channel[14]), bias_affine(channel[15])
  );
}

fn load_norm_rows() {
  row_affine = array<Affine, 16>(
    norm_affine(channel[0]), norm_affine(channel[1]), norm_affine(channel[2]), norm_affine(channel[3]),
    norm_affine(channel[4]), norm_affine(channel[5]), norm_affine(channel[6]), norm_affine(channel[7]),
    norm_affine(channel[8]), norm_affine(channel[9]), norm_affine(channel[10]), norm_affine(channel[11]),
    norm_affine(channel[12]), norm_affine(channel[13]), norm_affine(channel[14]), norm_affine(channel[15])
  );
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  accumulate(lid, wid, nwg);
  load_plain_rows();
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  accumulate(lid, wid, nwg);
  load_bias_rows();
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_norm(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  accumulate(lid, wid, nwg);
  load_norm_rows();
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  accumulate_staged(lid, wid, nwg);
  load_plain_rows();
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  accumulate_staged(lid, wid, nwg);
  load_bias_rows();
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged_norm(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  accumulate_staged(lid, wid, nwg);
  load_norm_rows();
  store_tile();
}
