// Sums the SPLITS slices of COUNT floats, STRIDE floats apart, that a split reduction left in `partial`
// into `total`. For a weight gradient whose GEMM skipped the dead kernel taps, the entries of taps outside
// the live window (TAP0_H .. TAP0_H + TAPS_H - 1 of K_H, likewise along x) are set to zero instead; with
// SPLITS = 0 only those are written. The defaults make every entry live.

override WG: u32 = 64u;
override COUNT: u32;
override SPLITS: u32;
override STRIDE: u32 = COUNT;
override K_H: u32 = 1u;
override K_W: u32 = 1u;
override TAP0_H: u32 = 0u;
override TAPS_H: u32 = K_H;
override TAP0_W: u32 = 0u;
override TAPS_W: u32 = K_W;

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> total: array<f32>;

fn live(i: u32) -> bool {
  let t = i % (K_H * K_W);
  // Taps before the window wrap around to large values.
  return t / K_W - TAP0_H < TAPS_H && t % K_W - TAP0_W < TAPS_W;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= COUNT) {
    return;
  }
  if (!live(i)) {
    total[i] = 0.0;
    return;
  }
  if (SPLITS == 0u) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < SPLITS; s++) {
    sum += partial[s * STRIDE + i];
  }
  total[i] = sum;
}
