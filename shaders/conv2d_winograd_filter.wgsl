// Winograd F(2x2, 3x3) filter transform: u[xi, row, step] = (G g G^T)[xi] for each 3x3 kernel g, where
// G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]] and xi = 4 * a + b indexes the 4x4 result.
// Rows are the GEMM's output channels and steps its input channels. Forward: g = weight[row, step].
// Backward-data (FLIP): the convolution of grad_output with the kernel turned by 180 degrees and
// transposed, g[ky, kx] = weight[step, row, 2 - ky, 2 - kx].
// Run by the first ROWS * DEPTH invocations of the first input-transform dispatch (composed before
// conv2d_winograd_input.wgsl, which binds `weight` and `transformed`): U starts `transformed`, and the
// filter needs no dispatch of its own. One invocation per (row, step).

override ROWS: u32;
override DEPTH: u32;
override FLIP: bool = false;

fn kernel_row(base: u32, ky: u32) -> vec3f {
  if (FLIP) {
    let at = base + 8u - 3u * ky;
    return vec3f(weight[at], weight[at - 1u], weight[at - 2u]);
  }
  let at = base + 3u * ky;
  return vec3f(weight[at], weight[at + 1u], weight[at + 2u]);
}

// Writes row a of the result, (t G^T) for the row t of G g, at index o + 4 * a * stride.
fn store_filter_row(o: u32, stride: u32, t: vec3f) {
  transformed[o] = t.x;
  transformed[o + stride] = 0.5 * (t.x + t.y + t.z);
  transformed[o + 2u * stride] = 0.5 * (t.x - t.y + t.z);
  transformed[o + 3u * stride] = t.z;
}

// Invocation i < ROWS * DEPTH transforms the kernel of (row, step) = (i / DEPTH, i % DEPTH).
fn filter_transform(i: u32) {
  let step = i % DEPTH;
  let row = i / DEPTH;
  let base = select(row * DEPTH + step, step * ROWS + row, FLIP) * 9u;
  let g0 = kernel_row(base, 0u);
  let g1 = kernel_row(base, 1u);
  let g2 = kernel_row(base, 2u);
  let stride = ROWS * DEPTH;
  store_filter_row(i, stride, g0);
  store_filter_row(i + 4u * stride, stride, 0.5 * (g0 + g1 + g2));
  store_filter_row(i + 8u * stride, stride, 0.5 * (g0 - g1 + g2));
  store_filter_row(i + 12u * stride, stride, g2);
}
