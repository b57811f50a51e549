// BatchNorm2d in train mode (after batchnorm_common.wgsl):
// 1. `partial_sums`: each workgroup sums its slice's values minus the channel's first value, and their
//    squares. Shifting by a value of the channel keeps `sum of squares - squared sum` well conditioned when
//    the mean is large compared to the spread, where plain sums would cancel catastrophically.
// 2. `normalize_slice`: each workgroup derives its channel's mean and biased variance from all partial
//    sums and normalises its slice; the first workgroup of a channel also saves mean and 1/std for
//    backward and updates the running statistics (the variance unbiased by n / (n - 1)).

override RELU: bool = false;

struct Params {
  channels: u32,
  spatial: u32,
  per_channel: u32, // batch * spatial
  slice_length: u32,
  slices: u32,
  eps: f32,
  momentum: f32,
  unbias: f32, // per_channel / (per_channel - 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// [channels][slices]: (sum of x - shift, sum of (x - shift)^2). Read-write in `normalize_slice` too, where
// it is only read, so that both entry points share one declaration.
@group(0) @binding(2) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> saved_mean: array<f32>;
@group(0) @binding(9) var<storage, read_write> saved_inv_std: array<f32>;

fn element(c: u32, j: u32) -> u32 {
  return channel_element(c, j, p.channels, p.spatial);
}

@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  let shift = x[element(c, 0u)];
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  var sums = vec2f(0.0);
  for (var j = start + t; j < end; j += WG) {
    let d = x[element(c, j)] - shift;
    sums += vec2f(d, d * d);
  }
  let total = workgroup_sum(t, sums);
  if (t == 0u) { partials[c * p.slices + wid.x] = total; }
}

@compute @workgroup_size(WG)
fn normalize_slice(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  var part = vec2f(0.0);
  if (t < p.slices) { part = partials[c * p.slices + t]; }
  let sums = workgroup_sum(t, part);
  let n = f32(p.per_channel);
  let shift = x[element(c, 0u)];
  let shifted_mean = sums.x / n;
  let variance = max(sums.y / n - shifted_mean * shifted_mean, 0.0);
  let mean = shift + shifted_mean;
  let inv_std = 1.0 / sqrt(variance + p.eps);
  if (wid.x == 0u && t == 0u) {
    saved_mean[c] = mean;
    saved_inv_std[c] = inv_std;
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * variance * p.unbias;
  }
  let scale = inv_std * weight[c];
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  for (var j = start + t; j < end; j += WG) {
    let i = element(c, j);
    // x - shift is exact for values near the shift, so the mean's rounding does not enter the result.
    let v = ((x[i] - shift) - shifted_mean) * scale + bias[c];
    y[i] = select(v, max(v, 0.0), RELU);
  }
}
