// The loop of the elementwise batch-norm passes (after vec4.wgsl or vec1.wgsl, before the file that defines
// `apply(i, c)` for Vec i of channel c). Each invocation handles Vecs i, i + stride, i + 2 * stride, ...
// with stride the dispatch's invocation count, so that neighbouring invocations read neighbouring memory;
// it divides once to find its first Vec's channel and then steps the channel along, as integer division
// costs far more than the work per Vec.

override WG: u32 = 256u;
override RELU: bool = false;

struct Params {
  count: u32, // Vecs in the tensor
  spatial: u32, // Vecs per plane
  channels: u32,
  stride: u32, // invocations in the dispatch
  stride_spatial: u32, // stride % spatial
  stride_channels: u32, // (stride / spatial) % channels
  eps: f32, // eval mode only
}

@group(0) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var i = gid.x + gid.y * nwg.x * WG;
  let plane = i / p.spatial;
  var s = i - plane * p.spatial;
  var c = plane % p.channels;
  for (; i < p.count; i += p.stride) {
    apply(i, c);
    s += p.stride_spatial;
    c += p.stride_channels;
    if (s >= p.spatial) {
      s -= p.spatial;
      c++;
    }
    if (c >= p.channels) { c -= p.channels; }
  }
}
