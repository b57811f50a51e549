// AdaptiveAvgPool2d(1) over `planes` consecutive runs of `spatial` values (after vec4.wgsl, when `spatial` is
// a multiple of 4, or vec1.wgsl, which define `Vec`, `WIDTH` and `lanes_sum`); sizes in the uniforms are
// counted in Vecs.
// - `forward_serial`: one invocation per plane sums it serially, without barriers (small planes).
// - `forward_workgroup`: one workgroup per plane reads it in coalesced strides and sums by a tree.
// - `backward`: one invocation per input Vec.
// Each entry point has its own bindings; WGSL only requires bindings to be distinct within one entry point.

override WG: u32 = 64u; // a power of two

struct Params {
  planes: u32,
  spatial: u32, // Vecs per plane
}

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read> input: array<Vec>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_input: array<Vec>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn forward_serial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let plane = gid.x + gid.y * nwg.x * WG;
  if (plane >= p.planes) { return; }
  var sum = 0.0;
  for (var i = plane * p.spatial; i < (plane + 1u) * p.spatial; i++) { sum += lanes_sum(input[i]); }
  output[plane] = sum / f32(p.spatial * WIDTH);
}

@compute @workgroup_size(WG)
fn forward_workgroup(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let plane = wid.x + wid.y * nwg.x;
  var sum = 0.0;
  if (plane < p.planes) {
    for (var i = t; i < p.spatial; i += WG) { sum += lanes_sum(input[plane * p.spatial + i]); }
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) { partial[t] += partial[t + stride]; }
    workgroupBarrier();
  }
  if (t == 0u && plane < p.planes) { output[plane] = partial[0] / f32(p.spatial * WIDTH); }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.planes * p.spatial) { grad_input[i] = Vec(grad_output[i / p.spatial] / f32(p.spatial * WIDTH)); }
}
