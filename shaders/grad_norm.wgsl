// Global gradient 2-norm for clipping (torch.nn.utils.clip_grad_norm_), computed without a readback.
//
// `squares` runs once per chunk of gradients: each workgroup sums the squares of ITEMS * WG consecutive
// floats into partial_sums[p.first + workgroup]. `finish` (one workgroup) adds the partial sums in a fixed
// order and writes norm = [total norm, clip coefficient], which the SGD kernels multiply gradients by.
// The two entry points use different buffers at binding 2; neither uses both. Compiled after
// workgroup_reduce.wgsl, which declares WG and reduce_sum.

override ITEMS: u32 = 16u;

struct Params {
  // squares: floats in this chunk; finish: number of partial sums.
  length: u32,
  // squares: index of this chunk's first partial sum.
  first: u32,
  max_norm: f32,
  // finish: 0 computes the norm only and leaves the coefficient at 1.
  clip: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partial_sums: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;

@compute @workgroup_size(WG)
fn squares(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let group = wid.x + wid.y * nwg.x;
  let start = group * WG * ITEMS;
  var local = 0.0;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG + lid;
    if (i < p.length) {
      let g = grads[i];
      local += g * g;
    }
  }
  let total = reduce_sum(vec4f(local, 0.0, 0.0, 0.0), lid).x;
  if (lid == 0u && start < p.length) {
    partial_sums[p.first + group] = total;
  }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var local = 0.0;
  for (var j = lid; j < p.length; j += WG) {
    local += partial_sums[j];
  }
  let total_norm = sqrt(reduce_sum(vec4f(local, 0.0, 0.0, 0.0), lid).x);
  if (lid == 0u) {
    norm[0] = total_norm;
    norm[1] = select(1.0, min(p.max_norm / (total_norm + 1e-6), 1.0), p.clip != 0u);
  }
}
