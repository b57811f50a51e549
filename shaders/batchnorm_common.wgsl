// Shared by batchnorm_train.wgsl and batchnorm_backward.wgsl, which are compiled with this text in front.
//
// Both reduce over a channel's `batch * spatial` values in two dispatches on one grid: workgroup (x, y)
// handles slice x (`slice_length` consecutive values) of channel y. The first dispatch stores one vec2f of
// partial sums per (channel, slice); the second adds up its channel's partial sums (there are at most WG)
// in every workgroup, so no dispatch is needed just to combine them, and then works on its slice.

override WG: u32 = 256u; // a power of two, at least the number of slices

var<workgroup> scratch: array<vec2f, WG>;

// The sum of `value` over the workgroup, by a tree so that rounding error grows with log2(WG) only.
// Must be called from uniform control flow.
fn workgroup_sum(t: u32, value: vec2f) -> vec2f {
  scratch[t] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) { scratch[t] += scratch[t + stride]; }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier(); // scratch may be reused as soon as this returns
  return total;
}

// Index in the NCHW tensor of value j of channel c, values ordered by (batch, spatial).
fn channel_element(c: u32, j: u32, channels: u32, spatial: u32) -> u32 {
  let n = j / spatial;
  return (n * channels + c) * spatial + (j - n * spatial);
}
