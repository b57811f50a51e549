// Workgroup tree reductions shared by cross_entropy.wgsl and grad_norm.wgsl: src/train/loss.ts and
// src/optim/sgd.ts compile this file in front of theirs.

// The workgroup size of the entry points that reduce, a power of two.
override WG: u32 = 256u;

// Scratch of the reductions; a file may use it for reductions of its own between calls.
var<workgroup> sums: array<vec4f, WG>;

// The sum of `value` over the workgroup, added in a fixed order and returned to every invocation, all of
// which must call it. It ends with a barrier, so that it may be called again at once.
fn reduce_sum(value: vec4f, lid: u32) -> vec4f {
  sums[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      sums[lid] += sums[lid + stride];
    }
    workgroupBarrier();
  }
  let total = sums[0];
  workgroupBarrier();
  return total;
}
