// Statistics of BatchNorm2d in train mode (after vec4.wgsl or vec1.wgsl and batchnorm_common.wgsl). The sums are of
// x - shift and its square, the shift being the channel's first value: that keeps `sum of squares - squared
// sum` well conditioned when the mean is large compared to the spread, where plain sums would cancel.
// `finalize` (one invocation per channel) derives the mean and biased variance, saves the mean and
// 1 / std for backward, updates the running statistics (the variance unbiased by n / (n - 1)) and stores
// the coefficients batchnorm_normalize.wgsl applies: (shift, mean - shift, weight / std, bias).

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

// The shift: the channel's first value (batch 0, position 0).
fn channel_reference(c: u32) -> f32 {
  return first_lane(input[c * p.spatial]);
}

fn value_sums(i: u32, shift: f32) -> vec2f {
  let d = input[i] - Vec(shift);
  return vec2f(lanes_sum(d), lanes_sum(d * d));
}

@compute @workgroup_size(SERIAL_WG)
fn finalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * SERIAL_WG;
  if (c >= p.channels) { return; }
  let sums = channel_sums(c);
  let n = f32(p.per_channel * WIDTH);
  let shift = channel_reference(c);
  let shifted_mean = sums.x / n;
  let variance = max(sums.y / n - shifted_mean * shifted_mean, 0.0);
  let mean = shift + shifted_mean;
  let inv_std = 1.0 / sqrt(variance + p.eps);
  saved_mean[c] = mean;
  saved_inv_std[c] = inv_std;
  running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
  running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * variance * p.unbias;
  coefficients[c] = vec4f(shift, shifted_mean, inv_std * weight[c], bias[c]);
}
