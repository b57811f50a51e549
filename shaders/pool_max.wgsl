// MaxPool2d with PyTorch's indices (ceil_mode false). Planes are the N*C images of an NCHW tensor. Each entry
// point has its own bindings; WGSL only requires bindings to be distinct within one entry point's interface.
// - `forward`: one invocation per output; the largest input in the window (padding taps skipped), the first
//   one in row-major window order on ties; `indices` holds its index within its H*W plane.
// - `backward`: one invocation per input, which gathers the gradients of the outputs whose window can
//   contain it and whose index names it, so overlapping windows need no atomics. Outputs are visited in
//   row-major order, the order in which PyTorch adds them.

override WG: u32 = 256u;

struct Params {
  planes: u32,
  in_height: u32,
  in_width: u32,
  out_height: u32,
  out_width: u32,
  kernel_height: u32,
  kernel_width: u32,
  stride_height: u32,
  stride_width: u32,
  pad_height: u32,
  pad_width: u32,
  dilation_height: u32,
  dilation_width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read> input: array<f32>;
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
  let out_plane = p.out_height * p.out_width;
  if (o >= p.planes * out_plane) { return; }
  let plane = o / out_plane;
  let oh = (o - plane * out_plane) / p.out_width;
  let ow = o - plane * out_plane - oh * p.out_width;
  let h0 = i32(oh * p.stride_height) - i32(p.pad_height);
  let w0 = i32(ow * p.stride_width) - i32(p.pad_width);
  let h_first = first_inside(h0, p.dilation_height);
  let w_first = first_inside(w0, p.dilation_width);
  let h_end = min(h0 + i32(p.kernel_height * p.dilation_height - p.dilation_height) + 1, i32(p.in_height));
  let w_end = min(w0 + i32(p.kernel_width * p.dilation_width - p.dilation_width) + 1, i32(p.in_width));
  let base = plane * p.in_height * p.in_width;
  var best_index = h_first * p.in_width + w_first;
  var best = input[base + best_index];
  for (var h = h_first; i32(h) < h_end; h += p.dilation_height) {
    for (var w = w_first; i32(w) < w_end; w += p.dilation_width) {
      let v = input[base + h * p.in_width + w];
      if (v > best) {
        best = v;
        best_index = h * p.in_width + w;
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
  let in_plane = p.in_height * p.in_width;
  if (i >= p.planes * in_plane) { return; }
  let plane = i / in_plane;
  let index = i - plane * in_plane;
  let ih = index / p.in_width;
  let iw = index - ih * p.in_width;
  let rows = reaching(ih, p.pad_height, p.kernel_height, p.dilation_height, p.stride_height, p.out_height);
  let cols = reaching(iw, p.pad_width, p.kernel_width, p.dilation_width, p.stride_width, p.out_width);
  let base = plane * p.out_height * p.out_width;
  var sum = 0.0;
  for (var oh = rows.x; oh < rows.y; oh++) {
    for (var ow = cols.x; ow < cols.y; ow++) {
      let o = base + oh * p.out_width + ow;
      if (argmax[o] == index) { sum += output_gradient(o); }
    }
  }
  grad_input[i] = sum;
}
