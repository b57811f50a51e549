// Convolution backward-weight of a 3x3 kernel (dilation 1, every tap live) by sliding windows rather than
// the GEMM core (appended to conv2d_geometry.wgsl). Per group, conv2d_backward_weight.wgsl's GEMM has
// CG_OUT rows and CG_IN * 9 columns: at the 4 or 8 channels per group of a ResNeXt, its register tiles
// load one operand per one to three multiply-adds. Here an invocation owns TM output channels x CI input
// channels x all 9 taps of one group and walks its slice of the reduction along output rows: the 3
// horizontal taps of an input row at output column ox + 1 read those at ox shifted by the stride, so each
// input value is loaded once per tap row (stride 1) instead of once per tap, and each grad_output value
// once for its CI * 9 products. Per output pixel: TM + 3 * CI * min(STRIDE_W, 3) loads, 9 * TM * CI
// multiply-adds.
//
// partial[s, co, c, ky, kx] = sum over the output rows (n, oy) of slice s and the columns ox of
//   grad_output[n, co, oy, ox] * input[n, g * CG_IN + c, oy * STRIDE_H - PAD_H + ky, ox * STRIDE_W - PAD_W + kx]
// for output channel co of group g, in grad_weight's layout; slice s covers the output rows from
// s * ROWS_PER_SPLIT on. With SPLITS = 1 partial may be grad_weight itself.
// Invocation id (spread over x and y) < SPLITS * CELLS: cell id % CELLS, slice id / CELLS; cells run over
// (group, output channel block, input channel block), the input block fastest, so that neighbouring
// invocations read the same grad_output values.
// CHECK_BOUNDS: false when no tap of any pixel reaches the padding.
// Private arrays are only ever indexed with constants (see conv2d_tile.wgsl), hence the ladders on TM and CI.

override WG: u32 = 64u; // invocations per workgroup
override TM: u32 = 4u; // output channels per invocation: 1, 2, 4, 8 or 16
override CI: u32 = 4u; // input channels per invocation: 1, 2 or 4, with TM * CI <= 16
override ROWS_PER_SPLIT: u32;
override SPLITS: u32;
override CO_BLOCKS: u32 = (CG_OUT + TM - 1u) / TM;
override CI_BLOCKS: u32 = (CG_IN + CI - 1u) / CI;
override CELLS: u32 = GROUPS * CO_BLOCKS * CI_BLOCKS;
override ROWS: u32 = BATCH * OUT_H;
override WEIGHTS: u32 = CG_IN * 9u; // weight entries per output channel

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

var<private> acc: array<vec3f, 48>; // [channel i][input c][tap row ky] at 3 * (CI * i + c) + ky, over kx
var<private> dy: array<f32, 16>; // grad_output of channel i at the current pixel
var<private> win: array<vec3f, 12>; // input row k = 3 * c + ky at the current pixel's 3 taps kx
var<private> row_at: array<i32, 12>; // input index of row k at ix = 0, in the current output row
var<private> row_in: array<bool, 12>; // whether row k lies inside the image
var<private> group: u32;
var<private> first_out: u32; // the invocation's first output channel within the group
var<private> first_in: u32; // likewise its first input channel

// Output channel i of the invocation (global), clamped into the group.
fn out_channel(i: u32) -> u32 {
  return group * CG_OUT + min(first_out + i, CG_OUT - 1u);
}

// Input channel c of the invocation within its group, clamped into the group.
fn in_channel(c: u32) -> u32 {
  return min(first_in + c, CG_IN - 1u);
}

fn load(k: u32, ix: i32) -> f32 {
  if (!CHECK_BOUNDS) {
    return input[u32(row_at[k] + ix)];
  }
  let inside = row_in[k] && u32(ix) < IN_W;
  return select(0.0, input[u32(select(0, row_at[k] + ix, inside))], inside);
}

// Starts row k (input channel c, tap row ky) of output row (n, oy) with the window of output column -1,
// of which the first slide keeps only what lies at output column 0.
fn start_row(c: u32, ky: u32, n: u32, oy: u32) {
  let k = 3u * c + ky;
  let y = i32(oy) * STRIDE_H - PAD_H + i32(ky);
  row_in[k] = u32(y) < IN_H;
  row_at[k] = i32((n * C_IN + group * CG_IN + in_channel(c)) * IN_HW) + y * i32(IN_W);
  if (STRIDE_W == 1) {
    win[k] = vec3f(0.0, load(k, -PAD_W), load(k, 1 - PAD_W));
  } else if (STRIDE_W == 2) {
    win[k] = vec3f(0.0, 0.0, load(k, -PAD_W));
  }
}

fn start_rows(c: u32, n: u32, oy: u32) {
  start_row(c, 0u, n, oy);
  start_row(c, 1u, n, oy);
  start_row(c, 2u, n, oy);
}

// Moves row k's window to the output column whose first tap is at ix.
fn slide(k: u32, ix: i32) -> vec3f {
  let w = win[k];
  var next: vec3f;
  if (STRIDE_W == 1) {
    next = vec3f(w.y, w.z, load(k, ix + 2));
  } else if (STRIDE_W == 2) {
    next = vec3f(w.z, load(k, ix + 1), load(k, ix + 2));
  } else {
    next = vec3f(load(k, ix), load(k, ix + 1), load(k, ix + 2));
  }
  win[k] = next;
  return next;
}

fn load_dy(i: u32, at: u32) {
  dy[i] = grad_output[out_channel(i) * OUT_HW + at];
}

fn load_dy4(i: u32, at: u32) {
  load_dy(i, at);
  load_dy(i + 1u, at);
  load_dy(i + 2u, at);
  load_dy(i + 3u, at);
}

// acc[i][k] += dy[i] * w
fn product(i: u32, k: u32, w: vec3f) {
  let a = 3u * CI * i + k;
  acc[a] = fma(vec3f(dy[i]), w, acc[a]);
}

fn products4(i: u32, k: u32, w: vec3f) {
  product(i, k, w);
  product(i + 1u, k, w);
  product(i + 2u, k, w);
  product(i + 3u, k, w);
}

// The products of row k's window w with every output channel.
fn products(k: u32, w: vec3f) {
  product(0u, k, w);
  if (TM > 1u) {
    product(1u, k, w);
  }
  if (TM > 2u) {
    product(2u, k, w);
    product(3u, k, w);
  }
  if (TM > 4u) {
    products4(4u, k, w);
  }
  if (TM > 8u) {
    products4(8u, k, w);
    products4(12u, k, w);
  }
}

// Input channel c's part of one output pixel, whose first tap is at ix.
fn input_step(c: u32, ix: i32) {
  products(3u * c, slide(3u * c, ix));
  products(3u * c + 1u, slide(3u * c + 1u, ix));
  products(3u * c + 2u, slide(3u * c + 2u, ix));
}

// One output pixel: `at` is its grad_output index in channel 0, ix its first tap's input column.
fn pixel(at: u32, ix: i32) {
  load_dy(0u, at);
  if (TM > 1u) {
    load_dy(1u, at);
  }
  if (TM > 2u) {
    load_dy(2u, at);
    load_dy(3u, at);
  }
  if (TM > 4u) {
    load_dy4(4u, at);
  }
  if (TM > 8u) {
    load_dy4(8u, at);
    load_dy4(12u, at);
  }
  input_step(0u, ix);
  if (CI > 1u) {
    input_step(1u, ix);
  }
  if (CI > 2u) {
    input_step(2u, ix);
    input_step(3u, ix);
  }
}

var<private> slice_base: u32;

fn store_taps(at: u32, w: vec3f) {
  partial[at] = w.x;
  partial[at + 1u] = w.y;
  partial[at + 2u] = w.z;
}

// Writes the 9 taps of (output channel i, input channel c) unless either lies past the group.
fn store(i: u32, c: u32) {
  if (first_out + i >= CG_OUT || first_in + c >= CG_IN) {
    return;
  }
  let at = slice_base + out_channel(i) * WEIGHTS + in_channel(c) * 9u;
  let a = 3u * (CI * i + c);
  store_taps(at, acc[a]);
  store_taps(at + 3u, acc[a + 1u]);
  store_taps(at + 6u, acc[a + 2u]);
}

fn store_channel(i: u32) {
  store(i, 0u);
  if (CI > 1u) {
    store(i, 1u);
  }
  if (CI > 2u) {
    store(i, 2u);
    store(i, 3u);
  }
}

fn store_channels4(i: u32) {
  store_channel(i);
  store_channel(i + 1u);
  store_channel(i + 2u);
  store_channel(i + 3u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * WG;
  if (id >= CELLS * SPLITS) {
    return;
  }
  let cell = id % CELLS;
  let slice = id / CELLS;
  first_in = (cell % CI_BLOCKS) * CI;
  first_out = ((cell / CI_BLOCKS) % CO_BLOCKS) * TM;
  group = cell / (CI_BLOCKS * CO_BLOCKS);
  slice_base = slice * C_OUT * WEIGHTS;
  let first = slice * ROWS_PER_SPLIT;
  let last = min(first + ROWS_PER_SPLIT, ROWS);
  for (var r = first; r < last; r++) {
    let n = r / OUT_H;
    let oy = r % OUT_H;
    start_rows(0u, n, oy);
    if (CI > 1u) {
      start_rows(1u, n, oy);
    }
    if (CI > 2u) {
      start_rows(2u, n, oy);
      start_rows(3u, n, oy);
    }
    let at = n * C_OUT * OUT_HW + oy * OUT_W;
    for (var ox = 0u; ox < OUT_W; ox++) {
      pixel(at + ox, i32(ox) * STRIDE_W - PAD_W);
    }
  }
  store_channel(0u);
  if (TM > 1u) {
    store_channel(1u);
  }
  if (TM > 2u) {
    store_channel(2u);
    store_channel(3u);
  }
  if (TM > 4u) {
    store_channels4(4u);
  }
  if (TM > 8u) {
    store_channels4(8u);
    store_channels4(12u);
  }
}
