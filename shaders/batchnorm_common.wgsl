// Per-channel statistics shared by batchnorm_train.wgsl and batchnorm_backward.wgsl, which are compiled after
// vec4.wgsl or vec1.wgsl (which define `Vec`, `WIDTH`, `lanes_sum` and `first_lane`; vec4f when a plane's
// size is a multiple of 4) and before the file that declares `Params`
// (starting with the five u32 fields used here), `partials`, `channel_reference` and `value_sums`.
//
// A channel's values are indexed by j in (batch, spatial) order, counted in Vecs. Its two sums are computed
// in one of three ways, chosen by sizes:
// - `finalize` with DIRECT: one invocation per channel sums all of it serially (small channels: no barrier,
//   no second dispatch);
// - `slice_sums_serial`: one invocation per (channel, slice) sums the slice serially;
// - `slice_sums_workgroup`: one workgroup per (channel, slice) reads coalesced and sums by a tree (large
//   channels, where the barriers are few compared to the loads).
// The sliced ways store one vec2f per (channel, slice) in `partials`; `finalize` then adds the channel's
// up to a few dozen partial sums once, serially, instead of every later workgroup doing it again.

override WG: u32 = 256u; // workgroup size of `slice_sums_workgroup`, a power of two
override SERIAL_WG: u32 = 64u; // workgroup size of the entry points with one invocation per item
override DIRECT: bool = false;

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

// Sums Vecs [start, end) of channel c one after another, stepping the tensor index instead of dividing.
fn serial_sums(c: u32, start: u32, end: u32, reference: f32) -> vec2f {
  let n = start / p.spatial;
  var s = start - n * p.spatial;
  var i = (n * p.channels + c) * p.spatial + s;
  let to_next_plane = (p.channels - 1u) * p.spatial;
  var sums = vec2f(0.0);
  for (var j = start; j < end; j++) {
    sums += value_sums(i, reference);
    i++;
    s++;
    if (s == p.spatial) {
      s = 0u;
      i += to_next_plane;
    }
  }
  return sums;
}

@compute @workgroup_size(SERIAL_WG)
fn slice_sums_serial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let item = gid.x + gid.y * nwg.x * SERIAL_WG;
  if (item >= p.channels * p.slices) { return; }
  let c = item / p.slices;
  let start = (item - c * p.slices) * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  partials[item] = serial_sums(c, start, end, channel_reference(c));
}

@compute @workgroup_size(WG)
fn slice_sums_workgroup(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.y;
  let reference = channel_reference(c);
  let start = wid.x * p.slice_length;
  let end = min(start + p.slice_length, p.per_channel);
  var sums = vec2f(0.0);
  for (var j = start + t; j < end; j += WG) {
    let n = j / p.spatial;
    sums += value_sums((n * p.channels + c) * p.spatial + (j - n * p.spatial), reference);
  }
  let total = workgroup_sum(t, sums);
  if (t == 0u) { partials[c * p.slices + wid.x] = total; }
}

// Channel c's two sums: computed here when DIRECT, else added up from its partial sums.
fn channel_sums(c: u32) -> vec2f {
  if (DIRECT) { return serial_sums(c, 0u, p.per_channel, channel_reference(c)); }
  var sums = vec2f(0.0);
  for (var k = 0u; k < p.slices; k++) { sums += partials[c * p.slices + k]; }
  return sums;
}
