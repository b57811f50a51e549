// One update of an exponential moving average over a chunk of flat buffers, as torch.optim.swa_utils'
// get_ema_multi_avg_fn does it: torch._foreach_lerp_(averaged, current, weight), weight = 1 - decay
// (1 on the first update, which copies). torch's lerp, in the tensors' precision:
//   weight < 0.5: averaged + weight * (current - averaged)
//   else:         current - (current - averaged) * (1 - weight)
// `main` updates `p.length` vec4fs, `main_tail` the floats [p.first, p.length) of a binding that starts at
// the chunk's last 256-byte boundary.

override WG: u32 = 256u;

struct Params {
  // vec4fs (main) or floats of the binding (main_tail).
  length: u32,
  // main_tail: the first float of the binding to update.
  first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> averaged: array<vec4f>;
@group(0) @binding(2) var<storage, read> current: array<vec4f>;
// [weight], written by the host before every update.
@group(0) @binding(3) var<storage, read> weight: array<f32>;

@group(0) @binding(1) var<storage, read_write> tail_averaged: array<f32>;
@group(0) @binding(2) var<storage, read> tail_current: array<f32>;

fn lerp(start: vec4f, end: vec4f) -> vec4f {
  let w = weight[0];
  if (w < 0.5) {
    return start + w * (end - start);
  }
  return end - (end - start) * (1.0 - w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * nwg.y * WG;
  for (var i = gid.x + gid.y * nwg.x * WG; i < p.length; i += stride) {
    averaged[i] = lerp(averaged[i], current[i]);
  }
}

@compute @workgroup_size(WG)
fn main_tail(@builtin(local_invocation_index) lid: u32) {
  let i = p.first + lid;
  if (i < p.length) {
    tail_averaged[i] = lerp(vec4f(tail_averaged[i]), vec4f(tail_current[i])).x;
  }
}
