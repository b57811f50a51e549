// What a convolution's forward pass does to each result before storing it (composed after
// conv2d_forward.wgsl or conv2d_winograd_output.wgsl, which bind `input`/`m`, `weight` and `output`/`result`
// below binding 4). Per output channel k, y = (v - shift) * scale + offset, then plus the residual when
// RESIDUAL, then ReLU when RELU. The entry points' `load_*` say where the three come from:
// - plain: 0, 1, 0;
// - bias: 0, 1, bias[k];
// - norm (an eval-mode BatchNorm folded in): running_mean[k], norm_weight[k] / sqrt(running_var[k] + eps),
//   norm_bias[k]: the same float32 operations as BatchNorm's own eval pass.
// An absent residual is bound to another tensor the dispatch reads. ROWS_PER_CHANNEL > 1 when a GEMM row is a (channel, pixel)
// pair of a dense matrix (see _conv_dense.ts).

override RESIDUAL: bool = false;
override RELU: bool = false;
override NORM_EPS: f32 = 1e-5;
override ROWS_PER_CHANNEL: u32 = 1u;

@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(6) var<storage, read> norm_bias: array<f32>;
@group(0) @binding(7) var<storage, read> running_mean: array<f32>;
@group(0) @binding(8) var<storage, read> running_var: array<f32>;

struct Affine {
  shift: f32,
  scale: f32,
  offset: f32,
}

fn plain_affine(k: u32) -> Affine {
  return Affine(0.0, 1.0, 0.0);
}

fn bias_affine(k: u32) -> Affine {
  return Affine(0.0, 1.0, bias[k / ROWS_PER_CHANNEL]);
}

fn norm_affine(k: u32) -> Affine {
  let c = k / ROWS_PER_CHANNEL;
  return Affine(running_mean[c], norm_weight[c] / sqrt(running_var[c] + NORM_EPS), norm_bias[c]);
}

// Result v of output element `index` under `a`.
fn epilogue(v: f32, a: Affine, index: u32) -> f32 {
  var y = (v - a.shift) * a.scale + a.offset;
  if (RESIDUAL) { y += residual[index]; }
  return select(y, max(y, 0.0), RELU);
}
