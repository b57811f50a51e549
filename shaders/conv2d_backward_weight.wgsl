// Convolution backward-weight as an implicit GEMM (appended to conv2d_tile.wgsl, conv2d_tile_shared.wgsl
// and conv2d_geometry.wgsl), split along its long reduction. For group g and reduction slice s:
// partial[s, g*CG_OUT + row, col] = sum over steps (n, oy, ox) in slice s of
//   grad_output[n, g*CG_OUT + row, oy, ox] * input[n, g*CG_IN + c, oy*STRIDE_H - PAD_H + ky*DIL_H, ...]
// with (ky, kx) a live tap; partial[s] has grad_weight's layout, the entries of dead taps left unwritten
// (the split sum, or a fill, zeroes them). Column col stands for (c, live tap), i.e. weight entry
// (c * K_H + ky) * K_W + kx. Slice s covers the output rows (n, oy) from s * ROWS_PER_SPLIT on. With
// SPLITS = 1 partial may be grad_weight itself.
// CHECK_BOUNDS: false when no tap of any pixel reaches the padding.
// Rows are output channels, columns are the live weight entries of one output channel.
// Entry points: main tiles in registers only, main_staged stages through workgroup memory.
// Grid: x = column tiles, y = slice, z = row tile + ROW_TILES * group (PACKED: row tile over all groups).

override ROWS_PER_SPLIT: u32;
override COLS: u32 = CG_IN * LIVE_TAPS;
override WEIGHTS: u32 = CG_IN * KHW; // weight entries per output channel, dead taps included
override ROWS: u32 = BATCH * OUT_H;
override ROW_TILES: u32 = (select(CG_OUT, C_OUT, PACKED) + TILE_ROWS - 1u) / TILE_ROWS;

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

struct Tap {
  offset: i32, // n * C_IN * IN_HW + oy * STRIDE_H * IN_W + ox * STRIDE_W
  iy: i32, // oy * STRIDE_H
  ix: i32, // ox * STRIDE_W
}

var<private> group: u32;
var<private> channel: array<u32, 16>; // output channel of row i, clamped into the group
var<private> row_valid: array<bool, 16>;
var<private> dy: array<i32, 16>; // column j's tap offset ky*DIL_H - PAD_H
var<private> dx: array<i32, 16>;
var<private> input_at: array<i32, 16>; // input index of column j's tap for (n, oy, ox) = (0, 0, 0)
var<private> weight_index: array<u32, 16>; // column j's entry among WEIGHTS
var<private> col_valid: array<bool, 16>;

fn setup_row(i: u32, row: u32) {
  if (setup_packed_row(i, row, C_OUT, CG_OUT)) {
    return;
  }
  row_valid[i] = row < CG_OUT;
  channel[i] = group * CG_OUT + min(row, CG_OUT - 1u);
}

fn setup_col(j: u32, col: u32) {
  col_valid[j] = col < COLS;
  let live = min(col, COLS - 1u);
  let c = live / LIVE_TAPS;
  let t = live % LIVE_TAPS;
  let ky = TAP0_H + t / TAPS_W;
  let kx = TAP0_W + t % TAPS_W;
  weight_index[j] = (c * K_H + ky) * K_W + kx;
  dy[j] = i32(ky) * DIL_H - PAD_H;
  dx[j] = i32(kx) * DIL_W - PAD_W;
  input_at[j] = i32((group * CG_IN + c) * IN_HW) + dy[j] * i32(IN_W) + dx[j];
}

fn row_value(i: u32, step: u32) -> f32 {
  return grad_output[channel[i] * OUT_HW + step];
}

fn col_value(j: u32, tap: Tap) -> f32 {
  if (!CHECK_BOUNDS) {
    return input[u32(input_at[j] + tap.offset)];
  }
  let inside = u32(tap.iy + dy[j]) < IN_H && u32(tap.ix + dx[j]) < IN_W;
  return select(0.0, input[u32(select(0, input_at[j] + tap.offset, inside))], inside);
}

var<private> slice_base: u32;

fn store(i: u32, j: u32, value: f32) {
  if (row_valid[i] && col_valid[j]) {
    partial[slice_base + channel[i] * WEIGHTS + weight_index[j]] = value;
  }
}

// First row and column of this workgroup's tile; sets `group` (unless PACKED), `slice_base`,
// `first_output_row` and `tile_first_row`.
fn tile_start(wid: vec3u) -> vec2u {
  group = wid.z / ROW_TILES;
  slice_base = wid.y * C_OUT * WEIGHTS;
  first_output_row = wid.y * ROWS_PER_SPLIT;
  tile_first_row = (wid.z % ROW_TILES) * TILE_ROWS;
  return vec2u(tile_first_row, wid.x * TILE_COLS);
}

var<private> first_output_row: u32;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let start = tile_start(wid);
  setup_tile(start.x + lid.y, start.y + lid.x);
  let last = min(first_output_row + ROWS_PER_SPLIT, ROWS);
  for (var r = first_output_row; r < last; r++) {
    let n = r / OUT_H;
    let oy = r % OUT_H;
    let iy = i32(oy) * STRIDE_H;
    let row_offset = i32(n * C_IN * IN_HW) + iy * i32(IN_W);
    let step = n * C_OUT * OUT_HW + oy * OUT_W;
    for (var ox = 0u; ox < OUT_W; ox++) {
      let ix = i32(ox) * STRIDE_W;
      tile_step(step + ox, Tap(row_offset + ix, iy, ix));
    }
  }
  store_tile();
}

fn reduction_at(k: u32) -> Reduction {
  let r = first_output_row + k / OUT_W;
  let ox = k % OUT_W;
  let n = r / OUT_H;
  let oy = r % OUT_H;
  let iy = i32(oy) * STRIDE_H;
  let ix = i32(ox) * STRIDE_W;
  return Reduction(n * C_OUT * OUT_HW + oy * OUT_W + ox, Tap(i32(n * C_IN * IN_HW) + iy * i32(IN_W) + ix, iy, ix));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let start = tile_start(wid);
  // From wid rather than first_output_row: the barriers in shared_gemm need a provably uniform depth.
  let first = wid.y * ROWS_PER_SPLIT;
  shared_gemm((min(first + ROWS_PER_SPLIT, ROWS) - first) * OUT_W, lid, start.x, start.y);
  store_tile();
}
