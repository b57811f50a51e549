// The input gradient of train-mode BatchNorm2d (after the prelude), with the fused ReLU's mask when RELU:
// grad_x = (g - mean(g) - (x - mean) * mean(g * (x - mean)) * inv_std^2) * weight * inv_std, with the
// per-channel coefficients batchnorm_backward.wgsl's `finalize` stored. One invocation per Vec.

override WG: u32 = 256u;
override RELU: bool = false;

struct Params {
  count: u32, // Vecs in the tensor
  spatial: u32, // Vecs per plane
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Vec>;
@group(0) @binding(2) var<storage, read> y: array<Vec>;
@group(0) @binding(3) var<storage, read> grad_y: array<Vec>;
// Per channel: (mean(g), mean(g * (x - mean)) * inv_std^2, weight * inv_std, mean).
@group(0) @binding(4) var<storage, read> coefficients: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<Vec>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.count) { return; }
  let k = coefficients[(i / p.spatial) % p.channels];
  var g = grad_y[i];
  if (RELU) { g = select(Vec(0.0), g, y[i] > Vec(0.0)); }
  grad_x[i] = (g - Vec(k.x) - (x[i] - Vec(k.w)) * k.y) * k.z;
}
