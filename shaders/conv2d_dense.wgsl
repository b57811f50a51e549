// A convolution on images so small that each output pixel reaches only part of the kernel, as a dense
// matrix over whole images (appended to conv2d_geometry.wgsl). With input pixel p = iy * IN_W + ix and
// output pixel q = oy * OUT_W + ox, the unrolled weight maps one image's C_IN * IN_HW inputs to its
// C_OUT * OUT_HW outputs:
//   unrolled[co * OUT_HW + q, ci * IN_HW + p] = weight[co, ci, ky, kx]
// where iy = oy * STRIDE_H - PAD_H + ky * DIL_H (same along x) for a tap (ky, kx) of the kernel, else 0.
// `unroll` writes it from the weight; `fold` sums a gradient of it back onto the kernel taps.
// Groups are not supported: the host picks this path only without them.

@group(0) @binding(0) var<storage, read> source: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;

override DENSE_COLUMNS: u32 = C_IN * IN_HW;

// The kernel tap along one axis that links output position o to input position i, or -1 if none does.
fn tap_between(i: u32, o: u32, stride: i32, pad: i32, dilation: i32, size: u32) -> i32 {
  let d = i32(i) - i32(o) * stride + pad;
  if (d < 0 || d % dilation != 0 || u32(d / dilation) >= size) {
    return -1;
  }
  return d / dilation;
}

// Both entry points take one invocation per (output channel, input channel) pair, whose block of the
// matrix links the two planes: an invocation per matrix entry spent most of its time on the launch of
// C_OUT * OUT_HW * DENSE_COLUMNS / 64 workgroups.
@compute @workgroup_size(64)
fn unroll(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pair = gid.x + gid.y * nwg.x * 64u;
  if (pair >= C_OUT * C_IN) {
    return;
  }
  let co = pair / C_IN;
  let ci = pair % C_IN;
  let taps = pair * KHW;
  for (var q = 0u; q < OUT_HW; q++) {
    let row = (co * OUT_HW + q) * DENSE_COLUMNS + ci * IN_HW;
    for (var p = 0u; p < IN_HW; p++) {
      let ky = tap_between(p / IN_W, q / OUT_W, STRIDE_H, PAD_H, DIL_H, K_H);
      let kx = tap_between(p % IN_W, q % OUT_W, STRIDE_W, PAD_W, DIL_W, K_W);
      var value = 0.0;
      if (ky >= 0 && kx >= 0) {
        value = source[taps + u32(ky) * K_W + u32(kx)];
      }
      result[row + p] = value;
    }
  }
}

@compute @workgroup_size(64)
fn fold(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pair = gid.x + gid.y * nwg.x * 64u;
  if (pair >= C_OUT * C_IN) {
    return;
  }
  let co = pair / C_IN;
  let ci = pair % C_IN;
  for (var tap = 0u; tap < KHW; tap++) {
    let ky = tap / K_W;
    let kx = tap % K_W;
    var sum = 0.0;
    for (var q = 0u; q < OUT_HW; q++) {
      let iy = i32(q / OUT_W) * STRIDE_H - PAD_H + i32(ky) * DIL_H;
      let ix = i32(q % OUT_W) * STRIDE_W - PAD_W + i32(kx) * DIL_W;
      if (u32(iy) < IN_H && u32(ix) < IN_W) {
        sum += source[(co * OUT_HW + q) * DENSE_COLUMNS + ci * IN_HW + u32(iy) * IN_W + u32(ix)];
      }
    }
    result[pair * KHW + tap] = sum;
  }
}
