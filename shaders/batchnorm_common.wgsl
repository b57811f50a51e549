// Per-channel statistics shared by batchnorm_train.wgsl and batchnorm_backward.wgsl, which are compiled after
// vec4.wgsl or vec1.wgsl (which define `Vec`, `WIDTH`, `lanes_sum` and `first_lane`; vec4f when a plane's
// size is a multiple of 4) and before the file that declares `Params` (starting with the five u32 fields
// used here), `partials`, and defines `channel_reference`, `value_sums`, `finish_channel` and
// `channel_apply`.
//
// A channel's values are indexed by j in (batch, spatial) order, counted in Vecs. Two ways, chosen by size:
// - `channel_pass`: one workgroup per channel sums it by a tree, finishes the statistics and applies them
//   to the same values (still in cache), all in one dispatch;
// - for channels too large for one workgroup: `slice_sums` (one workgroup per (channel, slice), one vec2f
//   each in `partials`), then `finalize` (one invocation per channel adds its few dozen partial sums and
//   stores the coefficients), then `slice_apply` over the same slices.

override WG: u32 = 256u; // workgroup size of `channel_pass` and `slice_sums`, a power of two
override FINALIZE_WG: u32 = 64u; // workgroup size of `finalize`, one invocation per channel

var<workgroup> tree: array<vec2f, WG>;

// The sum of `value` over the workgroup, by a tree so that rounding error grows with log2(WG) only.
// Must be called from uniform control flow.
fn workgroup_sum(t: u32, value: vec2f) -> vec2f {
  tree[t] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) { tree[t] += tree[t + stride]; }
    workgroupBarrier();
  }
  return tree[0];
}

// The tensor index of Vec j of channel c.
fn channel_vec(c: u32, j: u32) -> u32 {
  let n = j / p.spatial;
  return (n * p.channels + c) * p.spatial + (j - n * p.spatial);
}

// Channel c's sums over its Vecs [start, end), read coalesced by the workgroup.
fn range_sums(t: u32, c: u32, start: u32, end: u32) -> vec2f {
  let reference = channel_reference(c);
  var sums = vec2f(0.0);
  for (var j = start + t; j < end; j += WG) { sums += value_sums(channel_vec(c, j), reference); }
  return workgroup_sum(t, sums);
}

@compute @workgroup_size(WG)
fn channel_pass(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.x;
  // Every invocation holds the sums and derives the coefficients; the first one also writes them out.
  let k = finish_channel(c, range_sums(t, c, 0u, p.per_channel), t == 0u);
  for (var j = t; j < p.per_channel; j += WG) { channel_apply(channel_vec(c, j), k); }
}

@compute @workgroup_size(WG)
fn slice_sums(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  let start = wid.x * p.slice_length;
  let total = range_sums(t, c, start, min(start + p.slice_length, p.per_channel));
  if (t == 0u) { partials[c * p.slices + wid.x] = total; }
}

@compute @workgroup_size(FINALIZE_WG)
fn finalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * FINALIZE_WG;
  if (c >= p.channels) { return; }
  var sums = vec2f(0.0);
  for (var k = 0u; k < p.slices; k++) { sums += partials[c * p.slices + k]; }
  coefficients[c] = finish_channel(c, sums, true);
}

@compute @workgroup_size(WG)
fn slice_apply(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  let k = coefficients[c];
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  for (var j = start + t; j < end; j += WG) { channel_apply(channel_vec(c, j), k); }
}
