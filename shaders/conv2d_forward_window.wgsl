// Convolution forward of a 3x3 kernel (dilation 1, every tap live, stride 1 or 2 along rows) by sliding
// windows rather than the GEMM core (appended to conv2d_geometry.wgsl; followed by conv2d_epilogue.wgsl).
// At the 4 or 8 channels per group of a ResNeXt, conv2d_forward.wgsl's GEMM has only CG_OUT rows per group,
// so its register tiles load an input value per TM (4 or 8) multiply-adds, each behind its own bounds test.
// Here an invocation owns TM output channels of one group x RH output rows x a run of PIXELS consecutive
// output pixels of each. For each input channel and input row it reads, it loads the run's span of the
// row once (PIXELS + 2 values at stride 1, 2 * PIXELS + 1 at stride 2) and reuses each value across the 3
// horizontal taps, all TM channels and the output rows whose taps reach that row: 3 * TM * PIXELS
// multiply-adds per span and output row, RH + 2 spans for RH rows at a vertical stride of 1 instead of
// 3 * RH. A workgroup's invocations share one block of output channels (workgroup z), so the 9 * TM
// weights of each input channel are the same across the workgroup: loaded once for it where the driver
// sees that (uniform addresses), from cache elsewhere.
//
// output[n, g * CG_OUT + co, oy, ox] = epilogue(sum over c < CG_IN, ky, kx of
//   weight[g * CG_OUT + co, c, ky, kx] * input[n, g * CG_IN + c, oy * STRIDE_H - PAD_H + ky, ox * STRIDE_W - PAD_W + kx])
// Grid: x (spread over x and y) * WG = runs (image, block of RH output rows, run of the rows), z =
// group * CO_BLOCKS + output channel block.
// CHECK_BOUNDS: false when no tap of any pixel reaches the padding and the runs tile the image exactly.
// TRANSPOSED: backward-data of a stride-1 convolution, which is this forward convolution of grad_output
// (bound as input) padded by 2 - its padding; the geometry is then that transposed one (channels and
// sizes swapped), and weight holds the original kernel, read transposed and flipped:
// weight[g * CG_IN + c, co, 2 - ky, 2 - kx] in place of weight[g * CG_OUT + co, c, ky, kx].
// Private arrays are only ever indexed with constants (see conv2d_tile.wgsl), hence the ladders on TM and VN.

override WG: u32 = 64u; // invocations per workgroup
override TM: u32 = 4u; // output channels per invocation: 1, 2, 4, 8 or 16
override VN: u32 = 2u; // vec4s of consecutive output pixels per invocation: 1, 2 or 4
override RH: u32 = 1u; // output rows per invocation: 1, 2 or 4, with RH * TM <= 16
override PIXELS: u32 = 4u * VN;
override RUNS_PER_ROW: u32 = (OUT_W + PIXELS - 1u) / PIXELS;
override ROW_BLOCKS: u32 = (OUT_H + RH - 1u) / RH;
override RUNS: u32 = BATCH * ROW_BLOCKS * RUNS_PER_ROW;
override CO_BLOCKS: u32 = (CG_OUT + TM - 1u) / TM;
override TRANSPOSED: bool = false;

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

var<private> acc: array<vec4f, 64>; // [output row j][channel i][pixels 4v .. 4v + 3] at 4 * (TM * j + i) + v
var<private> w: array<vec3f, 48>; // weights of channel i at the current input channel, tap row ky, over kx
                                  // at 3 * i + ky
var<private> span: array<vec4f, 9>; // the current input row from the run's first tap on, 4 values a vec4
var<private> row_affine: array<Affine, 16>;
var<private> group: u32;
var<private> first_out: u32; // the invocation's first output channel within the group
var<private> ix0: i32; // input column of the run's first tap
var<private> row_at: i32; // input index of column ix0 of the current input row
var<private> row_in: bool; // whether the current input row lies inside the image

// Output channel i of the invocation (global), clamped into the group.
fn out_channel(i: u32) -> u32 {
  return group * CG_OUT + min(first_out + i, CG_OUT - 1u);
}

// The input value x columns right of the run's first tap, zero in the padding.
fn load(x: i32) -> f32 {
  if (!CHECK_BOUNDS) {
    return input[u32(row_at + x)];
  }
  let inside = row_in && u32(ix0 + x) < IN_W;
  return select(0.0, input[u32(select(0, row_at + x, inside))], inside);
}

fn load_span_vec(b: u32) {
  let x = 4 * i32(b);
  span[b] = vec4f(load(x), load(x + 1), load(x + 2), load(x + 3));
}

// Loads the span of the input row that the run's taps read: 4 * VN + 2 values at stride 1, 8 * VN + 1
// at stride 2.
fn load_span() {
  load_span_vec(0u);
  if (STRIDE_W == 1) {
    if (VN > 1u) {
      load_span_vec(1u);
    }
    if (VN > 2u) {
      load_span_vec(2u);
      load_span_vec(3u);
    }
    let x = 4 * i32(VN);
    span[VN] = vec4f(load(x), load(x + 1), 0.0, 0.0);
  } else {
    load_span_vec(1u);
    if (VN > 1u) {
      load_span_vec(2u);
      load_span_vec(3u);
    }
    if (VN > 2u) {
      load_span_vec(4u);
      load_span_vec(5u);
      load_span_vec(6u);
      load_span_vec(7u);
    }
    span[2u * VN] = vec4f(load(8 * i32(VN)), 0.0, 0.0, 0.0);
  }
}

// The weights of channel i at input channel c, tap row ky.
fn load_weight_row(i: u32, c: u32, ky: u32) {
  if (TRANSPOSED) {
    let k = ((group * CG_IN + c) * CG_OUT + min(first_out + i, CG_OUT - 1u)) * 9u + (2u - ky) * 3u;
    w[3u * i + ky] = vec3f(weight[k + 2u], weight[k + 1u], weight[k]);
  } else {
    let k = (out_channel(i) * CG_IN + c) * 9u + ky * 3u;
    w[3u * i + ky] = vec3f(weight[k], weight[k + 1u], weight[k + 2u]);
  }
}

fn load_weights(i: u32, c: u32) {
  load_weight_row(i, c, 0u);
  load_weight_row(i, c, 1u);
  load_weight_row(i, c, 2u);
}

fn load_weights4(i: u32, c: u32) {
  load_weights(i, c);
  load_weights(i + 1u, c);
  load_weights(i + 2u, c);
  load_weights(i + 3u, c);
}

// The weights of every channel at input channel c.
fn load_all_weights(c: u32) {
  load_weights(0u, c);
  if (TM > 1u) {
    load_weights(1u, c);
  }
  if (TM > 2u) {
    load_weights(2u, c);
    load_weights(3u, c);
  }
  if (TM > 4u) {
    load_weights4(4u, c);
  }
  if (TM > 8u) {
    load_weights4(8u, c);
    load_weights4(12u, c);
  }
}

// What pixels 4v .. 4v + 3 see through taps kx = 0, 1, 2 of the current row.
fn taps(v: u32) -> array<vec4f, 3> {
  if (STRIDE_W == 1) {
    let a = span[v];
    let b = span[v + 1u];
    return array<vec4f, 3>(a, vec4f(a.yzw, b.x), vec4f(a.zw, b.xy));
  }
  let a = span[2u * v];
  let b = span[2u * v + 1u];
  let c = span[2u * v + 2u];
  return array<vec4f, 3>(vec4f(a.xz, b.xz), vec4f(a.yw, b.yw), vec4f(a.z, b.xz, c.x));
}

// acc[j][i][v] += the 3 taps of tap row ky of channel i over pixels 4v .. 4v + 3 (of input x)
fn product(j: u32, ky: u32, i: u32, v: u32, x: array<vec4f, 3>) {
  let a = 4u * (TM * j + i) + v;
  let k = w[3u * i + ky];
  acc[a] = fma(vec4f(k.z), x[2], fma(vec4f(k.y), x[1], fma(vec4f(k.x), x[0], acc[a])));
}

fn products4(j: u32, ky: u32, i: u32, v: u32, x: array<vec4f, 3>) {
  product(j, ky, i, v, x);
  product(j, ky, i + 1u, v, x);
  product(j, ky, i + 2u, v, x);
  product(j, ky, i + 3u, v, x);
}

fn products(j: u32, ky: u32, v: u32) {
  let x = taps(v);
  product(j, ky, 0u, v, x);
  if (TM > 1u) {
    product(j, ky, 1u, v, x);
  }
  if (TM > 2u) {
    product(j, ky, 2u, v, x);
    product(j, ky, 3u, v, x);
  }
  if (TM > 4u) {
    products4(j, ky, 4u, v, x);
  }
  if (TM > 8u) {
    products4(j, ky, 8u, v, x);
    products4(j, ky, 12u, v, x);
  }
}

// Output row j's products with the current span through tap row ky.
fn row_products(j: u32, ky: u32) {
  products(j, ky, 0u);
  if (VN > 1u) {
    products(j, ky, 1u);
  }
  if (VN > 2u) {
    products(j, ky, 2u);
    products(j, ky, 3u);
  }
}

var<private> first_row: i32; // input row of the first output row's tap row 0
var<private> channel0: u32; // input index of the group's first channel in the invocation's image

// Output row j's products with input row r (relative to first_row), if its tap row r - j * STRIDE_H is one.
fn reach(j: u32, r: i32) {
  let ky = r - i32(j) * STRIDE_H;
  if (j < RH && ky >= 0 && ky < 3) {
    row_products(j, u32(ky));
  }
}

// Tap row ky of output row j of input channel c, unless output row j - 1 reads its input row too (which
// visited it then): the row's span, times the tap rows of every output row that reaches it.
fn visit(c: u32, j: u32, ky: u32) {
  if (j >= RH || (j > 0u && i32(ky) + STRIDE_H <= 2)) {
    return;
  }
  let r = i32(j) * STRIDE_H + i32(ky);
  let iy = first_row + r;
  row_in = u32(iy) < IN_H;
  row_at = i32(channel0 + c * IN_HW) + iy * i32(IN_W) + ix0;
  load_span();
  reach(0u, r);
  reach(1u, r);
  reach(2u, r);
  reach(3u, r);
}

fn visit_row(c: u32, j: u32) {
  visit(c, j, 0u);
  visit(c, j, 1u);
  visit(c, j, 2u);
}

var<private> out_at: u32; // output index of the run's first pixel in channel 0
var<private> oy0: u32; // output row of the run's first row
var<private> ox0: u32; // output column of the run's first pixel

// Returns false for the invocations past the last run; otherwise accumulates the invocation's outputs.
fn accumulate(lid: vec3u, wid: vec3u, nwg: vec3u) -> bool {
  let run = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (run >= RUNS) {
    return false;
  }
  group = wid.z / CO_BLOCKS;
  first_out = (wid.z % CO_BLOCKS) * TM;
  let n = run / (ROW_BLOCKS * RUNS_PER_ROW);
  oy0 = ((run / RUNS_PER_ROW) % ROW_BLOCKS) * RH;
  ox0 = (run % RUNS_PER_ROW) * PIXELS;
  ix0 = i32(ox0) * STRIDE_W - PAD_W;
  out_at = n * C_OUT * OUT_HW + oy0 * OUT_W + ox0;
  first_row = i32(oy0) * STRIDE_H - PAD_H;
  channel0 = (n * C_IN + group * CG_IN) * IN_HW;
  for (var c = 0u; c < CG_IN; c++) {
    load_all_weights(c);
    visit_row(c, 0u);
    visit_row(c, 1u);
    visit_row(c, 2u);
    visit_row(c, 3u);
  }
  return true;
}

// Writes pixel p of output row j, channel i, unless it lies past the group, the image or the row.
fn store(j: u32, i: u32, p: u32, value: f32) {
  if (first_out + i < CG_OUT && oy0 + j < OUT_H && ox0 + p < OUT_W) {
    let o = out_at + out_channel(i) * OUT_HW + j * OUT_W + p;
    output[o] = epilogue(value, row_affine[i], o);
  }
}

fn store_vec(j: u32, i: u32, v: u32) {
  let a = acc[4u * (TM * j + i) + v];
  store(j, i, 4u * v, a.x);
  store(j, i, 4u * v + 1u, a.y);
  store(j, i, 4u * v + 2u, a.z);
  store(j, i, 4u * v + 3u, a.w);
}

fn store_channel(j: u32, i: u32) {
  store_vec(j, i, 0u);
  if (VN > 1u) {
    store_vec(j, i, 1u);
  }
  if (VN > 2u) {
    store_vec(j, i, 2u);
    store_vec(j, i, 3u);
  }
}

fn store_channels4(j: u32, i: u32) {
  store_channel(j, i);
  store_channel(j, i + 1u);
  store_channel(j, i + 2u);
  store_channel(j, i + 3u);
}

fn store_row(j: u32) {
  store_channel(j, 0u);
  if (TM > 1u) {
    store_channel(j, 1u);
  }
  if (TM > 2u) {
    store_channel(j, 2u);
    store_channel(j, 3u);
  }
  if (TM > 4u) {
    store_channels4(j, 4u);
  }
  if (TM > 8u) {
    store_channels4(j, 8u);
    store_channels4(j, 12u);
  }
}

fn store_all() {
  store_row(0u);
  if (RH > 1u) {
    store_row(1u);
  }
  if (RH > 2u) {
    store_row(2u);
    store_row(3u);
  }
}

// The epilogue's coefficients of each channel, as in conv2d_forward.wgsl: one function per source, so that
// each entry point binds only its own tensors; channels beyond TM are clamped into the group.
fn load_plain_rows() {
  row_affine = array<Affine, 16>(
    plain_affine(out_channel(0u)), plain_affine(out_channel(1u)), plain_affine(out_channel(2u)),
    plain_affine(out_channel(3u)), plain_affine(out_channel(4u)), plain_affine(out_channel(5u)),
    plain_affine(out_channel(6u)), plain_affine(out_channel(7u)), plain_affine(out_channel(8u)),
    plain_affine(out_channel(9u)), plain_affine(out_channel(10u)), plain_affine(out_channel(11u)),
    plain_affine(out_channel(12u)), plain_affine(out_channel(13u)), plain_affine(out_channel(14u)),
    plain_affine(out_channel(15u))
  );
}

fn load_bias_rows() {
  row_affine = array<Affine, 16>(
    bias_affine(out_channel(0u)), bias_affine(out_channel(1u)), bias_affine(out_channel(2u)),
    bias_affine(out_channel(3u)), bias_affine(out_channel(4u)), bias_affine(out_channel(5u)),
    bias_affine(out_channel(6u)), bias_affine(out_channel(7u)), bias_affine(out_channel(8u)),
    bias_affine(out_channel(9u)), bias_affine(out_channel(10u)), bias_affine(out_channel(11u)),
    bias_affine(out_channel(12u)), bias_affine(out_channel(13u)), bias_affine(out_channel(14u)),
    bias_affine(out_channel(15u))
  );
}

fn load_norm_rows() {
  row_affine = array<Affine, 16>(
    norm_affine(out_channel(0u)), norm_affine(out_channel(1u)), norm_affine(out_channel(2u)),
    norm_affine(out_channel(3u)), norm_affine(out_channel(4u)), norm_affine(out_channel(5u)),
    norm_affine(out_channel(6u)), norm_affine(out_channel(7u)), norm_affine(out_channel(8u)),
    norm_affine(out_channel(9u)), norm_affine(out_channel(10u)), norm_affine(out_channel(11u)),
    norm_affine(out_channel(12u)), norm_affine(out_channel(13u)), norm_affine(out_channel(14u)),
    norm_affine(out_channel(15u))
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  if (accumulate(lid, wid, nwg)) {
    load_plain_rows();
    store_all();
  }
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  if (accumulate(lid, wid, nwg)) {
    load_bias_rows();
    store_all();
  }
}

@compute @workgroup_size(WG)
fn main_norm(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  if (accumulate(lid, wid, nwg)) {
    load_norm_rows();
    store_all();
  }
}
