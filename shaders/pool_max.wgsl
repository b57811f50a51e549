// MaxPool2d with PyTorch's indices (ceil_mode false). Planes are the N*C images of an NCHW tensor. Each entry
// point has its own bindings; WGSL only requires bindings to be distinct within one entry point's interface.
// - `forward`: one invocation per output; the largest input in the window (padding taps skipped), the first
//   one in row-major window order on ties; `indices` holds its index within its H*W plane.
// - `backward`: one invocation per input, which gathers the gradients of the outputs whose window can
//   contain it and whose index names it, so overlapping windows need no atomics. Outputs are visited in
//   row-major order, the order in which PyTorch adds them.

override WG: u32 = 256u;

// The geometry, as override constants: divisions by them compile to multiplications.
override PLANES: u32;
override IN_H: u32;
override IN_W: u32;
override OUT_H: u32;
override OUT_W: u32;
override K_H: u32;
override K_W: u32;
override STRIDE_H: u32;
override STRIDE_W: u32;
override PAD_H: u32;
override PAD_W: u32;
override DIL_H: u32;
override DIL_W: u32;

// forward
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<u32>;

// backward: the output's gradient is grad_output, GRAD_SPLITS partial sums of it SPLIT_LENGTH apart,
// plus grad_extra when EXTRA (a second term, EXTRA_SPLITS partial sums of it, bound to grad_output when
// absent); added as read, each term's partial sums first.
override GRAD_SPLITS: u32 = 1u;
override SPLIT_LENGTH: u32 = 0u;
override EXTRA: bool = false;
override EXTRA_SPLITS: u32 = 1u;
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad_input: array<f32>;
@group(0) @binding(4) var<storage, read> grad_extra: array<f32>;

fn output_gradient(o: u32) -> f32 {
  var g = grad_output[o];
  for (var s = 1u; s < GRAD_SPLITS; s++) { g += grad_output[o + s * SPLIT_LENGTH]; }
  if (EXTRA) {
    var extra = grad_extra[o];
    for (var s = 1u; s < EXTRA_SPLITS; s++) { extra += grad_extra[o + s * SPLIT_LENGTH]; }
    g += extra;
  }
  return g;
}

// The first window tap, `dilation` apart from `start`, that is not in the leading padding. Geometry checks
// guarantee that every window has a tap inside the input.
fn first_inside(start: i32, dilation: u32) -> u32 {
  if (start >= 0) { return u32(start); }
  let d = i32(dilation);
  return u32(start + (-start + d - 1) / d * d);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * WG;
  let out_plane = OUT_H * OUT_W;
  if (o >= PLANES * out_plane) { return; }
  let plane = o / out_plane;
  let oh = (o - plane * out_plane) / OUT_W;
  let ow = o - plane * out_plane - oh * OUT_W;
  let h0 = i32(oh * STRIDE_H) - i32(PAD_H);
  let w0 = i32(ow * STRIDE_W) - i32(PAD_W);
  let h_first = first_inside(h0, DIL_H);
  let w_first = first_inside(w0, DIL_W);
  let h_end = min(h0 + i32(K_H * DIL_H - DIL_H) + 1, i32(IN_H));
  let w_end = min(w0 + i32(K_W * DIL_W - DIL_W) + 1, i32(IN_W));
  let base = plane * IN_H * IN_W;
  var best_index = h_first * IN_W + w_first;
  var best = input[base + best_index];
  for (var h = h_first; i32(h) < h_end; h += DIL_H) {
    for (var w = w_first; i32(w) < w_end; w += DIL_W) {
      let v = input[base + h * IN_W + w];
      if (v > best) {
        best = v;
        best_index = h * IN_W + w;
      }
    }
  }
  output[o] = best;
  indices[o] = best_index;
}

// The outputs along one axis whose window can reach input position `i`: [first, end).
fn reaching(i: u32, pad: u32, taps: u32, dilation: u32, stride: u32, outputs: u32) -> vec2u {
  let reach = i + pad; // position in the padded input
  let span = (taps - 1u) * dilation;
  var first = 0u;
  if (reach > span) { first = (reach - span + stride - 1u) / stride; }
  return vec2u(first, min(reach / stride + 1u, outputs));
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let in_plane = IN_H * IN_W;
  if (i >= PLANES * in_plane) { return; }
  let plane = i / in_plane;
  let index = i - plane * in_plane;
  let ih = index / IN_W;
  let iw = index - ih * IN_W;
  let rows = reaching(ih, PAD_H, K_H, DIL_H, STRIDE_H, OUT_H);
  let cols = reaching(iw, PAD_W, K_W, DIL_W, STRIDE_W, OUT_W);
  let base = plane * OUT_H * OUT_W;
  var sum = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    for (var ow = cols.x; ow < cols.y; ow++) {
      let o = base + oh * OUT_W + ow;
      if (argmax[o] == index) { sum += output_gradient(o); }
    }
  }
  grad_input[i] = sum;
}
