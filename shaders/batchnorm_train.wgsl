// BatchNorm2d in train mode (after vec4.wgsl or vec1.wgsl and batchnorm_common.wgsl). The sums are of
// x - shift and its square, the shift being the channel's first value: that keeps `sum of squares - squared
// sum` well conditioned when the mean is large compared to the spread, where plain sums would cancel.
// `finish_channel` derives the mean and biased variance, saves the mean and 1 / std for backward, updates
// the running statistics (the variance unbiased by n / (n - 1)) and returns the coefficients
// (shift, mean - shift, weight / std, bias) that `normalized` applies; `channel_apply` adds the residual when
// RESIDUAL (an absent one is bound to a placeholder) and then applies ReLU when RELU.

override RELU: bool = false;
override RESIDUAL: bool = false;

struct Params {
  channels: u32,
  spatial: u32, // Vecs per plane
  per_channel: u32, // Vecs per channel: batch * spatial
  slice_length: u32, // Vecs per slice
  slices: u32,
  eps: f32,
  momentum: f32,
  unbias: f32, // n / (n - 1), n values per channel
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<Vec>;
// [channels][slices]: (sum of x - shift, sum of (x - shift)^2). Read-write in `finalize` too, where it is
// only read, so that all entry points share one declaration.
@group(0) @binding(2) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> saved_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> saved_inv_std: array<f32>;
@group(0) @binding(9) var<storage, read_write> coefficients: array<vec4f>;
@group(0) @binding(10) var<storage, read> residual: array<Vec>;
@group(0) @binding(11) var<storage, read_write> output: array<Vec>;

// The shift: the channel's first value (batch 0, position 0).
fn channel_reference(c: u32) -> f32 {
  return first_lane(input[c * p.spatial]);
}

fn value_sums(i: u32, shift: f32) -> vec2f {
  let d = input[i] - Vec(shift);
  return vec2f(lanes_sum(d), lanes_sum(d * d));
}

fn finish_channel(c: u32, sums: vec2f, write: bool) -> vec4f {
  let n = f32(p.per_channel * WIDTH);
  let shift = channel_reference(c);
  let shifted_mean = sums.x / n;
  let variance = max(sums.y / n - shifted_mean * shifted_mean, 0.0);
  let inv_std = 1.0 / sqrt(variance + p.eps);
  if (write) {
    let mean = shift + shifted_mean;
    saved_mean[c] = mean;
    saved_inv_std[c] = inv_std;
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * variance * p.unbias;
  }
  return vec4f(shift, shifted_mean, inv_std * weight[c], bias[c]);
}

// x - shift is exact for values near the shift, so the mean's rounding does not enter the result.
fn normalized(x: Vec, k: vec4f) -> Vec {
  return ((x - Vec(k.x)) - Vec(k.y)) * k.z + Vec(k.w);
}

fn channel_apply(i: u32, k: vec4f) {
  var v = normalized(input[i], k);
  if (RESIDUAL) { v += residual[i]; }
  output[i] = select(v, max(v, Vec(0.0)), RELU);
}
