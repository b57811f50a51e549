// Statistics of the backward of train-mode BatchNorm2d (after vec4.wgsl or vec1.wgsl and batchnorm_common.wgsl), with
// the fused ReLU when RELU: the incoming gradient g is masked where the forward output is not positive.
// With xhat = (x - mean) * inv_std:
//   grad_bias = sum g, grad_weight = sum g * xhat,
//   grad_x = weight * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
// The sums are of g and g * (x - mean). `finalize` (one invocation per channel) writes grad_weight and
// grad_bias, each only when its WRITE_* constant is set (an absent one is bound to a placeholder), and
// stores the coefficients batchnorm_grad_input.wgsl applies: (mean(g), mean(g * (x - mean)) * inv_std^2,
// weight * inv_std, mean).

override RELU: bool = false;
override WRITE_WEIGHT: bool = true;
override WRITE_BIAS: bool = true;

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
@group(0) @binding(3) var<storage, read> grad_output: array<Vec>;
@group(0) @binding(4) var<storage, read> saved_mean: array<f32>;
// [channels][slices]: (sum g, sum g * (x - mean)). Read-write in `finalize` too, where it is only read, so
// that all entry points share one declaration.
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(6) var<storage, read> saved_inv_std: array<f32>;
@group(0) @binding(7) var<storage, read> weight: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_weight: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_bias: array<f32>;
@group(0) @binding(10) var<storage, read_write> coefficients: array<vec4f>;

fn channel_reference(c: u32) -> f32 {
  return saved_mean[c];
}

fn value_sums(i: u32, mean: f32) -> vec2f {
  var g = grad_output[i];
  if (RELU) { g = select(Vec(0.0), g, output[i] > Vec(0.0)); }
  return vec2f(lanes_sum(g), lanes_sum(g * (input[i] - Vec(mean))));
}

@compute @workgroup_size(SERIAL_WG)
fn finalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * SERIAL_WG;
  if (c >= p.channels) { return; }
  let sums = channel_sums(c);
  let inv_std = saved_inv_std[c];
  if (WRITE_WEIGHT) { grad_weight[c] = sums.y * inv_std; }
  if (WRITE_BIAS) { grad_bias[c] = sums.x; }
  let n = f32(p.per_channel * WIDTH);
  coefficients[c] = vec4f(sums.x / n, sums.y / n * inv_std * inv_std, weight[c] * inv_std, saved_mean[c]);
}
