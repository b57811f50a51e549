// Winograd filter transform: u[xi, row, step] = (G g G^T)[xi] for each 3x3 kernel g, G being in
// conv2d_winograd_input_f2.wgsl or conv2d_winograd_input_f4.wgsl (`transform_kernel`). Rows are the GEMM's
// output channels and steps its input channels. Forward: g = weight[row, step]. Backward-data (FLIP): the
// convolution of grad_output with the kernel turned by 180 degrees and transposed,
// g[ky, kx] = weight[step, row, 2 - ky, 2 - kx].
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

// Invocation i < ROWS * DEPTH transforms the kernel of (row, step) = (i / DEPTH, i % DEPTH).
fn filter_transform(i: u32) {
  let step = i % DEPTH;
  let row = i / DEPTH;
  let base = select(row * DEPTH + step, step * ROWS + row, FLIP) * 9u;
  transform_kernel(i, ROWS * DEPTH, kernel_row(base, 0u), kernel_row(base, 1u), kernel_row(base, 2u));
}
