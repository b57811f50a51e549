// Backward of train-mode BatchNorm2d (after batchnorm_common.wgsl), with the fused ReLU when RELU: the
// incoming gradient g is masked where the forward output is not positive. With xhat = (x - mean) * inv_std:
//   grad_bias = sum g, grad_weight = sum g * xhat,
//   grad_x = weight * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
// 1. `partial_sums`: per (channel, slice), sum g and sum g * (x - mean).
// 2. `gradients`: each workgroup adds up its channel's partial sums; the first workgroup of a channel writes
//    grad_weight and grad_bias, and every workgroup writes grad_x over its slice. Each output is written only
//    when its WRITE_* constant is set (an absent one is bound to a placeholder).

override RELU: bool = false;
override WRITE_INPUT: bool = true;
override WRITE_WEIGHT: bool = true;
override WRITE_BIAS: bool = true;

struct Params { channels: u32, spatial: u32, per_channel: u32, slice_length: u32, slices: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read> saved_mean: array<f32>;
// [channels][slices]: (sum g, sum g * (x - mean)). Read-write in `gradients` too, where it is only read, so
// that both entry points share one declaration.
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(6) var<storage, read> saved_inv_std: array<f32>;
@group(0) @binding(7) var<storage, read> weight: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_x: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_weight: array<f32>;
@group(0) @binding(10) var<storage, read_write> grad_bias: array<f32>;

fn element(c: u32, j: u32) -> u32 {
  return channel_element(c, j, p.channels, p.spatial);
}

fn masked_grad(i: u32) -> f32 {
  if (RELU) { return select(0.0, grad_y[i], y[i] > 0.0); }
  return grad_y[i];
}

@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  let mean = saved_mean[c];
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  var sums = vec2f(0.0);
  for (var j = start + t; j < end; j += WG) {
    let i = element(c, j);
    let g = masked_grad(i);
    sums += vec2f(g, g * (x[i] - mean));
  }
  let total = workgroup_sum(t, sums);
  if (t == 0u) { partials[c * p.slices + wid.x] = total; }
}

@compute @workgroup_size(WG)
fn gradients(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  var part = vec2f(0.0);
  if (t < p.slices) { part = partials[c * p.slices + t]; }
  let sums = workgroup_sum(t, part);
  let inv_std = saved_inv_std[c];
  if (wid.x == 0u && t == 0u) {
    if (WRITE_WEIGHT) { grad_weight[c] = sums.y * inv_std; }
    if (WRITE_BIAS) { grad_bias[c] = sums.x; }
  }
  if (!WRITE_INPUT) { return; }
  let n = f32(p.per_channel);
  let mean_g = sums.x / n;
  // mean(g * xhat) * xhat = (x - mean) * projection
  let projection = sums.y / n * inv_std * inv_std;
  let scale = weight[c] * inv_std;
  let mean = saved_mean[c];
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  for (var j = start + t; j < end; j += WG) {
    let i = element(c, j);
    grad_x[i] = (masked_grad(i) - mean_g - (x[i] - mean) * projection) * scale;
  }
}
