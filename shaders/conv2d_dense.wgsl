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
override DENSE_COUNT: u32 = C_OUT * OUT_HW * DENSE_COLUMNS;

// The kernel tap along one axis that links output position o to input position i, or -1 if none does.
fn tap_between(i: u32, o: u32, stride: i32, pad: i32, dilation: i32, size: u32) -> i32 {
  let d = i32(i) - i32(o) * stride + pad;
  if (d < 0 || d % dilation != 0 || u32(d / dilation) >= size) {
    return -1;
  }
  return d / dilation;
}

@compute @workgroup_size(64)
fn unroll(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = gid.x + gid.y * nwg.x * 64u;
  if (index >= DENSE_COUNT) {
    return;
  }
  let row = index / DENSE_COLUMNS;
  let column = index % DENSE_COLUMNS;
  let co = row / OUT_HW;
  let q = row % OUT_HW;
  let ci = column / IN_HW;
  let p = column % IN_HW;
  let ky = tap_between(p / IN_W, q / OUT_W, STRIDE_H, PAD_H, DIL_H, K_H);
  let kx = tap_between(p % IN_W, q % OUT_W, STRIDE_W, PAD_W, DIL_W, K_W);
  var value = 0.0;
  if (ky >= 0 && kx >= 0) {
    value = source[((co * C_IN + ci) * K_H + u32(ky)) * K_W + u32(kx)];
  }
  result[index] = value;
}

@compute @workgroup_size(64)
fn fold(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let index = gid.x + gid.y * nwg.x * 64u;
  if (index >= C_OUT * C_IN * KHW) {
    return;
  }
  let kx = index % K_W;
  let ky = (index / K_W) % K_H;
  let ci = (index / KHW) % C_IN;
  let co = index / (KHW * C_IN);
  var sum = 0.0;
  for (var q = 0u; q < OUT_HW; q++) {
    let iy = i32(q / OUT_W) * STRIDE_H - PAD_H + i32(ky) * DIL_H;
    let ix = i32(q % OUT_W) * STRIDE_W - PAD_W + i32(kx) * DIL_W;
    if (u32(iy) < IN_H && u32(ix) < IN_W) {
      sum += source[(co * OUT_HW + q) * DENSE_COLUMNS + ci * IN_HW + u32(iy) * IN_W + u32(ix)];
    }
  }
  result[index] = sum;
}
