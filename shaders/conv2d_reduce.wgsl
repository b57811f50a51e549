// Sums the SPLITS slices of COUNT floats, STRIDE floats apart, that a split reduction left in `partial`
// into `total`.

override WG: u32 = 64u;
override COUNT: u32;
override SPLITS: u32;
override STRIDE: u32 = COUNT;

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= COUNT) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < SPLITS; s++) {
    sum += partial[s * STRIDE + i];
  }
  total[i] = sum;
}
