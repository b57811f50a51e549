// Convolution backward-data as an implicit GEMM (appended to conv2d_tile.wgsl, conv2d_tile_shared.wgsl and
// conv2d_geometry.wgsl). For group g:
// grad_input[n, g*CG_IN + row, iy, ix] = sum over steps (oc, ky, kx) of
//   weight[g*CG_OUT + oc, row, ky, kx] * grad_output[n, g*CG_OUT + oc, oy, ox]
// over the live taps with iy = oy*STRIDE_H - PAD_H + ky*DIL_H (same along x). Input pixels are split into
// PHASES_Y x PHASES_X phases (iy mod STRIDE_H, ix mod STRIDE_W; fewer where the image is smaller than the
// stride): within a phase the same taps are valid for every pixel, an arithmetic progression along each
// axis, so the loops run over those taps alone, with no test per tap or pixel. A dispatch runs phases
// PHASE_FIRST .. PHASE_FIRST + PHASE_COUNT - 1, one slab of the grid's z each: a run of phases that all
// have valid taps, or (TAPLESS) a run that has none (a 1x1 stride-2 kernel's three) and only writes
// zeros, compiled without the reduction (on llvmpipe even an idle workgroup of the full kernel costs tens
// of microseconds).
// The reduction may be split over the output channels: slice s sums CHANNELS_PER_SPLIT of them into
// grad_input[s * SLICE_SIZE + ...], partial sums added afterwards; unsplit, grad_input is the result.
// CHECK_BOUNDS: false when every valid tap of every pixel of every phase lands inside grad_output.
// Rows are input channels, columns are the input pixels of the whole batch of the largest phase, (0, 0):
// each phase lays its pixels out on that grid (constant divisors), a smaller one leaving some idle.
// Entry points: main tiles in registers only, main_staged stages through workgroup memory.
// Grid: x (spread over x and y) = column tiles of the largest phase, z = row tile + ROW_TILES * (group +
// GROUPS * (slice + SPLITS * (phase - PHASE_FIRST))) (PACKED: row tile over all groups + ROW_TILES *
// (slice + SPLITS * (phase - PHASE_FIRST))), phase = PHASES_X * phase_y + phase_x.

override PHASES_Y: u32 = u32(STRIDE_H);
override PHASES_X: u32 = u32(STRIDE_W);
override PHASE_FIRST: u32 = 0u;
override PHASE_COUNT: u32 = PHASES_Y * PHASES_X;
override TAPLESS: bool = false;
override SPLITS: u32 = 1u;
override CHANNELS_PER_SPLIT: u32 = CG_OUT; // output channels each slice of the reduction sums
override SLICE_SIZE: u32 = BATCH * C_IN * IN_HW; // floats between the slices' partial sums

override PHASE_H: u32 = (IN_H + u32(STRIDE_H) - 1u) / u32(STRIDE_H); // phase (0, 0)'s rows of pixels
override PHASE_W: u32 = (IN_W + u32(STRIDE_W) - 1u) / u32(STRIDE_W);
override PHASE_HW: u32 = PHASE_H * PHASE_W;
override PIXELS: u32 = BATCH * PHASE_HW;
override ROW_TILES: u32 = (select(CG_IN, C_IN, PACKED) + TILE_ROWS - 1u) / TILE_ROWS;
override Z_GROUPS: u32 = select(GROUPS, 1u, PACKED); // groups along the grid's z
override PHASE_SLAB: u32 = ROW_TILES * Z_GROUPS * SPLITS; // z workgroups per phase

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_input: array<f32>;

struct Tap {
  offset: i32, // oc * OUT_HW + sy * OUT_W + sx
  sy: i32, // oy - jy
  sx: i32, // ox - jx
}

// The taps valid in a phase along one axis: first + t * step for t < count.
struct PhaseTaps {
  first: u32,
  count: u32,
  step: u32,
}

// The live taps k (tap0 <= k < tap0 + taps) with phase + pad - k * dilation a multiple of the stride.
fn phase_taps(phase: i32, pad: i32, dilation: i32, stride: i32, tap0: u32, taps: u32) -> PhaseTaps {
  var r = PhaseTaps(tap0, 0u, 1u);
  for (var k = tap0; k < tap0 + taps; k++) {
    if ((phase + pad - i32(k) * dilation) % stride == 0) {
      if (r.count == 0u) {
        r.first = k;
      } else if (r.count == 1u) {
        r.step = k - r.first;
      }
      r.count++;
    }
  }
  return r;
}

// Workgroup `wid`'s phase, (y, x).
fn phase_of(wid: vec3u) -> vec2i {
  let phase = select(PHASE_FIRST + wid.z / PHASE_SLAB, PHASE_FIRST, PHASE_COUNT == 1u);
  return vec2i(i32(phase / PHASES_X), i32(phase % PHASES_X));
}

fn taps_y(phase: vec2i) -> PhaseTaps {
  return phase_taps(phase.x, PAD_H, DIL_H, STRIDE_H, TAP0_H, TAPS_H);
}

fn taps_x(phase: vec2i) -> PhaseTaps {
  return phase_taps(phase.y, PAD_W, DIL_W, STRIDE_W, TAP0_W, TAPS_W);
}

var<private> phase_y: i32; // this workgroup's phase: input pixels (phase_y + STRIDE_H * jy, phase_x + STRIDE_W * jx)
var<private> phase_x: i32;
var<private> phase_h: u32; // the phase's rows and columns of pixels
var<private> phase_w: u32;
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
  let p = min(col, PIXELS - 1u);
  let n = p / PHASE_HW;
  let r = p % PHASE_HW;
  let y = r / PHASE_W;
  let x = r % PHASE_W;
  col_valid[j] = col < PIXELS && y < phase_h && x < phase_w;
  jy[j] = i32(min(y, phase_h - 1u));
  jx[j] = i32(min(x, phase_w - 1u));
  let iy = u32(phase_y + STRIDE_H * jy[j]);
  let ix = u32(phase_x + STRIDE_W * jx[j]);
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
  let sy = (phase_y + PAD_H - i32(ky) * DIL_H) / STRIDE_H;
  let sx = (phase_x + PAD_W - i32(kx) * DIL_W) / STRIDE_W;
  return Reduction((oc * CG_IN * K_H + ky) * K_W + kx, Tap(i32(oc * OUT_HW) + sy * i32(OUT_W) + sx, sy, sx));
}

// First row and column of this workgroup's tile; sets the phase, `group` (unless PACKED),
// `first_channel`, `slice_base` and `tile_first_row`.
fn tile_start(wid: vec3u, nwg: vec3u) -> vec2u {
  let phase = phase_of(wid);
  phase_y = phase.x;
  phase_x = phase.y;
  phase_h = (IN_H - u32(phase_y) + u32(STRIDE_H) - 1u) / u32(STRIDE_H);
  phase_w = (IN_W - u32(phase_x) + u32(STRIDE_W) - 1u) / u32(STRIDE_W);
  let group_slice = (wid.z % PHASE_SLAB) / ROW_TILES;
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
  let phase = phase_of(wid);
  let ty = taps_y(phase);
  let tx = taps_x(phase);
  let last_channel = min(first_channel + CHANNELS_PER_SPLIT, CG_OUT);
  // One loop over (channel, tap y, tap x), its counters stepped without branches: on llvmpipe a loop nest
  // over tap counts known only at run time ran 1.5-2x slower, and this loop runs stride-1 ones (constant
  // counts) about 1.25x faster than the nest did.
  let steps = select((last_channel - first_channel) * ty.count * tx.count, 0u, TAPLESS);
  var oc = first_channel;
  var y = 0u;
  var x = 0u;
  for (var k = 0u; k < steps; k++) {
    let r = reduction(oc, ty.first + y * ty.step, tx.first + x * tx.step);
    tile_step(r.step, r.tap);
    x++;
    let row_done = x == tx.count;
    x = select(x, 0u, row_done);
    y = select(y, y + 1u, row_done);
    let taps_done = y == ty.count;
    y = select(y, 0u, taps_done);
    oc = select(oc, oc + 1u, taps_done);
  }
  store_tile();
}

var<private> staged_y: PhaseTaps;
var<private> staged_x: PhaseTaps;

fn reduction_at(k: u32) -> Reduction {
  // At least 1: a phase may have no valid tap (then no step runs), but a divisor must not be zero.
  let taps = max(staged_y.count * staged_x.count, 1u);
  let t = k % taps;
  let columns = max(staged_x.count, 1u);
  return reduction(first_channel + k / taps,
    staged_y.first + (t / columns) * staged_y.step, staged_x.first + (t % columns) * staged_x.step);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(wid, nwg);
  // From wid rather than private state: the barriers in shared_gemm need a provably uniform depth.
  let phase = phase_of(wid);
  let ty = taps_y(phase);
  let tx = taps_x(phase);
  staged_y = ty;
  staged_x = tx;
  let first = ((wid.z % PHASE_SLAB) / ROW_TILES / Z_GROUPS) * CHANNELS_PER_SPLIT;
  let channels = min(first + CHANNELS_PER_SPLIT, CG_OUT) - first;
  shared_gemm(select(channels * ty.count * tx.count, 0u, TAPLESS), lid, start.x, start.y);
  store_tile();
}
