// Convolution backward-data as an implicit GEMM (appended to conv2d_tile.wgsl, conv2d_tile_shared.wgsl and
// conv2d_geometry.wgsl). For group g:
// grad_input[n, g*CG_IN + row, iy, ix] = sum over steps (oc, ky, kx) of
//   weight[g*CG_OUT + oc, row, ky, kx] * grad_output[n, g*CG_OUT + oc, oy, ox]
// over the live taps with iy = oy*STRIDE_H - PAD_H + ky*DIL_H (same along x). Input pixels are split into
// STRIDE_H x STRIDE_W phases (iy mod STRIDE_H, ix mod STRIDE_W), one dispatch each: within a phase the
// same taps are valid for every pixel, an arithmetic progression along each axis that the host computes,
// so the loops run over those taps alone, with constant trip counts and no test per tap or pixel.
// The reduction may be split over the output channels: slice s sums CHANNELS_PER_SPLIT of them into
// grad_input[s * SLICE_SIZE + ...], a scratch buffer summed afterwards; unsplit, grad_input is the result.
// CHECK_BOUNDS: false when every valid tap of every pixel of the phase lands inside grad_output.
// Rows are input channels, columns are the phase's input pixels of the whole batch.
// Entry points: main tiles in registers only, main_staged stages through workgroup memory.
// Grid: x (spread over x and y) = column tiles, z = row tile + ROW_TILES * (group + GROUPS * slice)
// (PACKED: row tile over all groups + ROW_TILES * slice).

override PHASE_Y: i32; // this dispatch's phase: input pixels (PHASE_Y + STRIDE_H * jy, PHASE_X + STRIDE_W * jx)
override PHASE_X: i32;
// The live taps valid in this phase, per axis: ky = PHASE_TAP0_H + t * PHASE_TAP_STEP_H for t < PHASE_TAPS_H.
override PHASE_TAP0_H: u32;
override PHASE_TAPS_H: u32;
override PHASE_TAP_STEP_H: u32;
override PHASE_TAP0_W: u32;
override PHASE_TAPS_W: u32;
override PHASE_TAP_STEP_W: u32;
override CHANNELS_PER_SPLIT: u32 = CG_OUT; // output channels each slice of the reduction sums
override SLICE_SIZE: u32 = BATCH * C_IN * IN_HW; // floats between the slices' partial sums

override PHASE_H: u32 = (IN_H - u32(PHASE_Y) + u32(STRIDE_H) - 1u) / u32(STRIDE_H);
override PHASE_W: u32 = (IN_W - u32(PHASE_X) + u32(STRIDE_W) - 1u) / u32(STRIDE_W);
override PHASE_HW: u32 = PHASE_H * PHASE_W;
override PIXELS: u32 = BATCH * PHASE_HW;
override ROW_TILES: u32 = (select(CG_IN, C_IN, PACKED) + TILE_ROWS - 1u) / TILE_ROWS;
override Z_GROUPS: u32 = select(GROUPS, 1u, PACKED); // groups along the grid's z

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_input: array<f32>;

struct Tap {
  offset: i32, // oc * OUT_HW + sy * OUT_W + sx
  sy: i32, // oy - jy
  sx: i32, // ox - jx
}

var<private> group: u32;
var<private> first_channel: u32; // first output channel of this slice of the reduction
var<private> slice_base: u32;
var<private> channel: array<u32, 16>; // input channel of row i, clamped into the group
var<private> row_valid: array<bool, 16>;
var<private> jy: array<i32, 16>; // column j's pixel is (PHASE_Y + STRIDE_H * jy, PHASE_X + STRIDE_W * jx)
var<private> jx: array<i32, 16>;
var<private> grad_output_at: array<i32, 16>; // grad_output index of (n, g*CG_OUT, jy, jx)
var<private> in_index: array<u32, 16>; // grad_input index of column j in channel 0
var<private> col_valid: array<bool, 16>;

fn setup_row(i: u32, row: u32) {
  if (setup_packed_row(i, row, C_IN, CG_IN)) {
    return;
  }
  row_valid[i] = row < CG_IN;
  channel[i] = group * CG_IN + min(row, CG_IN - 1u);
}

fn setup_col(j: u32, col: u32) {
  col_valid[j] = col < PIXELS;
  let p = min(col, PIXELS - 1u);
  let n = p / PHASE_HW;
  let r = p % PHASE_HW;
  jy[j] = i32(r / PHASE_W);
  jx[j] = i32(r % PHASE_W);
  let iy = u32(PHASE_Y + STRIDE_H * jy[j]);
  let ix = u32(PHASE_X + STRIDE_W * jx[j]);
  in_index[j] = slice_base + n * C_IN * IN_HW + iy * IN_W + ix;
  grad_output_at[j] = i32((n * C_OUT + group * CG_OUT) * OUT_HW) + jy[j] * i32(OUT_W) + jx[j];
}

fn row_value(i: u32, step: u32) -> f32 {
  return weight[(group * CG_OUT * CG_IN + channel[i] - group * CG_IN) * KHW + step];
}

fn col_value(j: u32, tap: Tap) -> f32 {
  if (!CHECK_BOUNDS) {
    return grad_output[u32(grad_output_at[j] + tap.offset)];
  }
  let inside = u32(jy[j] + tap.sy) < OUT_H && u32(jx[j] + tap.sx) < OUT_W;
  return select(0.0, grad_output[u32(select(0, grad_output_at[j] + tap.offset, inside))], inside);
}

fn store(i: u32, j: u32, value: f32) {
  if (row_valid[i] && col_valid[j]) {
    grad_input[in_index[j] + channel[i] * IN_HW] = value;
  }
}

// The step and tap of output channel oc through kernel tap (ky, kx), valid in this phase.
fn reduction(oc: u32, ky: u32, kx: u32) -> Reduction {
  let sy = (PHASE_Y + PAD_H - i32(ky) * DIL_H) / STRIDE_H;
  let sx = (PHASE_X + PAD_W - i32(kx) * DIL_W) / STRIDE_W;
  return Reduction((oc * CG_IN * K_H + ky) * K_W + kx, Tap(i32(oc * OUT_HW) + sy * i32(OUT_W) + sx, sy, sx));
}

// First row and column of this workgroup's tile; sets `group` (unless PACKED), `first_channel`,
// `slice_base` and `tile_first_row`.
fn tile_start(wid: vec3u, nwg: vec3u) -> vec2u {
  let group_slice = wid.z / ROW_TILES;
  group = group_slice % Z_GROUPS;
  let slice = group_slice / Z_GROUPS;
  first_channel = slice * CHANNELS_PER_SPLIT;
  slice_base = slice * SLICE_SIZE;
  tile_first_row = (wid.z % ROW_TILES) * TILE_ROWS;
  return vec2u(tile_first_row, (wid.x + wid.y * nwg.x) * TILE_COLS);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(wid, nwg);
  setup_tile(start.x + lid.y, start.y + lid.x);
  let last_channel = min(first_channel + CHANNELS_PER_SPLIT, CG_OUT);
  for (var oc = first_channel; oc < last_channel; oc++) {
    for (var ty = 0u; ty < PHASE_TAPS_H; ty++) {
      for (var tx = 0u; tx < PHASE_TAPS_W; tx++) {
        let r = reduction(oc, PHASE_TAP0_H + ty * PHASE_TAP_STEP_H, PHASE_TAP0_W + tx * PHASE_TAP_STEP_W);
        tile_step(r.step, r.tap);
      }
    }
  }
  store_tile();
}

// At least 1: a phase may have no valid tap (then no step runs), but a constant divisor must not be zero.
override PHASE_TAPS: u32 = max(PHASE_TAPS_H * PHASE_TAPS_W, 1u);

fn reduction_at(k: u32) -> Reduction {
  let t = k % PHASE_TAPS;
  return reduction(first_channel + k / PHASE_TAPS,
    PHASE_TAP0_H + (t / PHASE_TAPS_W) * PHASE_TAP_STEP_H, PHASE_TAP0_W + (t % PHASE_TAPS_W) * PHASE_TAP_STEP_W);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(wid, nwg);
  // From wid rather than first_channel: the barriers in shared_gemm need a provably uniform depth.
  let first = (wid.z / ROW_TILES / Z_GROUPS) * CHANNELS_PER_SPLIT;
  let channels = min(first + CHANNELS_PER_SPLIT, CG_OUT) - first;
  shared_gemm(channels * PHASE_TAPS_H * PHASE_TAPS_W, lid, start.x, start.y);
  store_tile();
}
