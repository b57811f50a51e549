// Train-mode BatchNorm2d's output (after the prelude): y = ((x - shift) - (mean - shift)) * weight / std
// + bias, then ReLU when RELU, with the per-channel coefficients batchnorm_train.wgsl's `finalize` stored.
// x - shift is exact for values near the shift, so the mean's rounding does not enter the result. One
// invocation per Vec; Vec i of an NCHW tensor is in channel (i / spatial) % channels.

override WG: u32 = 256u;
override RELU: bool = false;

struct Params {
  count: u32, // Vecs in the tensor
  spatial: u32, // Vecs per plane
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Vec>;
// Per channel: (shift, mean - shift, weight / std, bias).
@group(0) @binding(2) var<storage, read> coefficients: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<Vec>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.count) { return; }
  let k = coefficients[(i / p.spatial) % p.channels];
  let v = ((x[i] - Vec(k.x)) - Vec(k.y)) * k.z + Vec(k.w);
  y[i] = select(v, max(v, Vec(0.0)), RELU);
}
