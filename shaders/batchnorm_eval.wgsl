// BatchNorm2d in eval mode: y = (x - running_mean) * weight / sqrt(running_var + eps) + bias, then ReLU when
// RELU. One invocation per element; element i of an NCHW tensor is in channel (i / spatial) % channels.

override WG: u32 = 256u;
override RELU: bool = false;

struct Params { count: u32, spatial: u32, channels: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read> running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.count) { return; }
  let c = (i / p.spatial) % p.channels;
  let v = (x[i] - running_mean[c]) * (weight[c] / sqrt(running_var[c] + p.eps)) + bias[c];
  y[i] = select(v, max(v, 0.0), RELU);
}
