// Convolution backward-data as an implicit GEMM (appended to conv2d_tile.wgsl and conv2d_tile_shared.wgsl).
// For group g:
// grad_input[n, g*CG_IN + row, iy, ix] = sum over steps (oc, ky, kx) of
//   weight[g*CG_OUT + oc, row, ky, kx] * grad_output[n, g*CG_OUT + oc, oy, ox]
// over the taps with iy = oy*STRIDE_H - PAD_H + ky*DIL_H (same along x). Input pixels are split into
// STRIDE_H x STRIDE_W phases (iy mod STRIDE_H, ix mod STRIDE_W): within a phase the same taps are valid
// for every pixel, so strided convolutions loop over their valid taps only, with no per-pixel test.
// Rows are input channels, columns are the phase's input pixels of the whole batch.
// Entry points: main tiles in registers only, main_staged stages through workgroup memory.
// Grid: x (spread over x and y) = column tiles, z = row tile + ROW_TILES * (group + GROUPS * phase).

override BATCH: u32;
override C_IN: u32;
override IN_H: u32;
override IN_W: u32;
override C_OUT: u32;
override OUT_H: u32;
override OUT_W: u32;
override K_H: u32;
override K_W: u32;
override STRIDE_H: i32;
override STRIDE_W: i32;
override PAD_H: i32;
override PAD_W: i32;
override DIL_H: i32;
override DIL_W: i32;
override GROUPS: u32;
override CHECK_BOUNDS: bool = true; // false when every valid tap of every pixel lands inside grad_output

override CG_IN: u32 = C_IN / GROUPS;
override CG_OUT: u32 = C_OUT / GROUPS;
override IN_HW: u32 = IN_H * IN_W;
override OUT_HW: u32 = OUT_H * OUT_W;
override KHW: u32 = K_H * K_W;
override PHASE_H: u32 = (IN_H + u32(STRIDE_H) - 1u) / u32(STRIDE_H);
override PHASE_W: u32 = (IN_W + u32(STRIDE_W) - 1u) / u32(STRIDE_W);
override PHASE_HW: u32 = PHASE_H * PHASE_W;
override PIXELS: u32 = BATCH * PHASE_HW;
override ROW_TILES: u32 = (CG_IN + TILE_ROWS - 1u) / TILE_ROWS;

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_input: array<f32>;

struct Tap {
  offset: i32, // oc * OUT_HW + sy * OUT_W + sx
  sy: i32, // oy - jy
  sx: i32, // ox - jx
}

var<private> group: u32;
var<private> phase_y: i32;
var<private> phase_x: i32;
var<private> channel: array<u32, 16>; // input channel of row i, clamped into the group
var<private> row_valid: array<bool, 16>;
var<private> jy: array<i32, 16>; // column j's pixel is (phase_y + STRIDE_H * jy, phase_x + STRIDE_W * jx)
var<private> jx: array<i32, 16>;
var<private> grad_output_at: array<i32, 16>; // grad_output index of (n, g*CG_OUT, jy, jx)
var<private> in_index: array<u32, 16>; // grad_input index of column j in channel 0
var<private> col_valid: array<bool, 16>;

fn setup_row(i: u32, row: u32) {
  row_valid[i] = row < CG_IN;
  channel[i] = group * CG_IN + min(row, CG_IN - 1u);
}

fn setup_col(j: u32, col: u32) {
  let p = min(col, PIXELS - 1u);
  let n = p / PHASE_HW;
  let r = p % PHASE_HW;
  jy[j] = i32(r / PHASE_W);
  jx[j] = i32(r % PHASE_W);
  let iy = phase_y + STRIDE_H * jy[j];
  let ix = phase_x + STRIDE_W * jx[j];
  col_valid[j] = col < PIXELS && iy < i32(IN_H) && ix < i32(IN_W);
  in_index[j] = n * C_IN * IN_HW + u32(iy) * IN_W + u32(ix);
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

// First row and column of this workgroup's tile; sets `group`, `phase_y` and `phase_x`.
fn tile_start(wid: vec3u, nwg: vec3u) -> vec2u {
  let group_phase = wid.z / ROW_TILES;
  group = group_phase % GROUPS;
  let phase = group_phase / GROUPS;
  phase_y = i32(phase) / STRIDE_W;
  phase_x = i32(phase) % STRIDE_W;
  return vec2u((wid.z % ROW_TILES) * TILE_ROWS, (wid.x + wid.y * nwg.x) * TILE_COLS);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(wid, nwg);
  setup_tile(start.x + lid.y, start.y + lid.x);
  for (var oc = 0u; oc < CG_OUT; oc++) {
    for (var ky = 0u; ky < K_H; ky++) {
      // iy = oy*STRIDE_H - PAD_H + ky*DIL_H, so oy = jy + ty / STRIDE_H when STRIDE_H divides ty.
      let ty = phase_y + PAD_H - i32(ky) * DIL_H;
      if (ty % STRIDE_H != 0) {
        continue;
      }
      let sy = ty / STRIDE_H;
      for (var kx = 0u; kx < K_W; kx++) {
        let tx = phase_x + PAD_W - i32(kx) * DIL_W;
        if (tx % STRIDE_W != 0) {
          continue;
        }
        let sx = tx / STRIDE_W;
        tile_step((oc * CG_IN * K_H + ky) * K_W + kx, Tap(i32(oc * OUT_HW) + sy * i32(OUT_W) + sx, sy, sx));
      }
    }
  }
  store_tile();
}

struct Reduction {
  step: u32,
  tap: Tap,
}

// The taps k < size of one dimension valid in this phase: an arithmetic progression (first, count, step).
struct ValidTaps {
  first: u32,
  count: u32,
  step: u32,
}

var<private> taps_y: ValidTaps;
var<private> taps_x: ValidTaps;

fn valid_taps(phase: i32, pad: i32, dilation: i32, stride: i32, size: u32) -> ValidTaps {
  var taps = ValidTaps(0u, 0u, 1u);
  for (var k = 0u; k < size; k++) {
    if ((phase + pad - i32(k) * dilation) % stride == 0) {
      if (taps.count == 0u) {
        taps.first = k;
      } else if (taps.count == 1u) {
        taps.step = k - taps.first;
      }
      taps.count++;
    }
  }
  return taps;
}

fn reduction_at(k: u32) -> Reduction {
  let per_channel = taps_y.count * taps_x.count;
  let oc = k / per_channel;
  let t = k % per_channel;
  let ky = taps_y.first + (t / taps_x.count) * taps_y.step;
  let kx = taps_x.first + (t % taps_x.count) * taps_x.step;
  let sy = (phase_y + PAD_H - i32(ky) * DIL_H) / STRIDE_H;
  let sx = (phase_x + PAD_W - i32(kx) * DIL_W) / STRIDE_W;
  return Reduction((oc * CG_IN * K_H + ky) * K_W + kx, Tap(i32(oc * OUT_HW) + sy * i32(OUT_W) + sx, sy, sx));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(wid, nwg);
  // From wid rather than phase_y and phase_x: the barriers in shared_gemm need a provably uniform depth.
  let phase = wid.z / ROW_TILES / GROUPS;
  let y = valid_taps(i32(phase) / STRIDE_W, PAD_H, DIL_H, STRIDE_H, K_H);
  let x = valid_taps(i32(phase) % STRIDE_W, PAD_W, DIL_W, STRIDE_W, K_W);
  taps_y = y;
  taps_x = x;
  shared_gemm(CG_OUT * y.count * x.count, lid, start.x, start.y);
  store_tile();
}
