// The backward of train-mode BatchNorm2d (after vec4.wgsl or vec1.wgsl and batchnorm_common.wgsl). The
// incoming gradient g is grad_output, plus grad_extra when EXTRA (a second gradient of the output, summed
// here instead of in a pass of its own), masked where the forward output is not positive when RELU. With
// GRAD_SPLITS > 1, grad_output holds that many partial sums of its term, SPLIT_VECS apart (a split-K
// convolution's, left unsummed), and grad_extra EXTRA_SPLITS of its own: the pass that sums the channel
// adds each term's partial sums, then the terms, and writes g over grad_output's first partial sum, which
// the apply then reads alone.
// With xhat = (x - mean) * inv_std:
//   grad_bias = sum g, grad_weight = sum g * xhat,
//   grad_x = weight * inv_std * (g - mean(g) - xhat * mean(g * xhat)),
//   and with WRITE_RESIDUAL, g overwrites grad_output: the gradient of a residual input added before the
//   ReLU (in place, so that a block's fused backward stays within 10 storage buffers).
// The sums are of g and g * (x - mean). `finish_channel` writes grad_weight and grad_bias, each only when its
// WRITE_* constant is set, and returns the coefficients `channel_apply` uses: (mean(g),
// mean(g * (x - mean)) * inv_std^2, weight * inv_std, mean). An absent tensor is bound to a placeholder: the
// pipeline is compiled without the accesses to it.

override RELU: bool = false;
override EXTRA: bool = false;
override WRITE_WEIGHT: bool = true;
override WRITE_BIAS: bool = true;
override WRITE_INPUT: bool = true;
override WRITE_RESIDUAL: bool = false;
override GRAD_SPLITS: u32 = 1u;
override EXTRA_SPLITS: u32 = 1u;
override SPLIT_VECS: u32 = 0u;

struct Params {
  channels: u32,
  spatial: u32, // Vecs per plane
  per_channel: u32, // Vecs per channel: batch * spatial
  slice_length: u32, // Vecs per slice
  slices: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<Vec>;
@group(0) @binding(2) var<storage, read> output: array<Vec>;
@group(0) @binding(3) var<storage, read_write> grad_output: array<Vec>;
@group(0) @binding(4) var<storage, read> saved_mean: array<f32>;
// [channels][slices]: (sum g, sum g * (x - mean)). Read-write in `finalize` too, where it is only read, so
// that all entry points share one declaration.
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(6) var<storage, read> saved_inv_std: array<f32>;
@group(0) @binding(7) var<storage, read> weight: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_weight: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_bias: array<f32>;
@group(0) @binding(10) var<storage, read_write> coefficients: array<vec4f>;
@group(0) @binding(11) var<storage, read> grad_extra: array<Vec>;
@group(0) @binding(12) var<storage, read_write> grad_input: array<Vec>;

fn channel_reference(c: u32) -> f32 {
  return saved_mean[c];
}

// g as the summing pass first reads it.
fn incoming(i: u32) -> Vec {
  var g = grad_output[i];
  for (var s = 1u; s < GRAD_SPLITS; s++) { g += grad_output[i + s * SPLIT_VECS]; }
  if (EXTRA) {
    var extra = grad_extra[i];
    for (var s = 1u; s < EXTRA_SPLITS; s++) { extra += grad_extra[i + s * SPLIT_VECS]; }
    g += extra;
  }
  if (RELU) { g = select(Vec(0.0), g, output[i] > Vec(0.0)); }
  return g;
}

// g as the apply reads it, after the summing pass.
fn gradient(i: u32) -> Vec {
  if (GRAD_SPLITS > 1u) { return grad_output[i]; }
  return incoming(i);
}

fn value_sums(i: u32, mean: f32) -> vec2f {
  let g = incoming(i);
  if (GRAD_SPLITS > 1u) { grad_output[i] = g; }
  return vec2f(lanes_sum(g), lanes_sum(g * (input[i] - Vec(mean))));
}

fn finish_channel(c: u32, sums: vec2f, write: bool) -> vec4f {
  let inv_std = saved_inv_std[c];
  if (write && WRITE_WEIGHT) { grad_weight[c] = sums.y * inv_std; }
  if (write && WRITE_BIAS) { grad_bias[c] = sums.x; }
  let n = f32(p.per_channel * WIDTH);
  return vec4f(sums.x / n, sums.y / n * inv_std * inv_std, weight[c] * inv_std, saved_mean[c]);
}

fn channel_apply(i: u32, k: vec4f) {
  let g = gradient(i);
  if (WRITE_INPUT) { grad_input[i] = (g - Vec(k.x) - (input[i] - Vec(k.w)) * k.y) * k.z; }
  if (WRITE_RESIDUAL) { grad_output[i] = g; }
}
