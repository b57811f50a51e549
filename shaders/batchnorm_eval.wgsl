// BatchNorm2d in eval mode (after vec4.wgsl or vec1.wgsl and batchnorm_elementwise.wgsl):
// y = (x - running_mean) * weight / sqrt(running_var + eps) + bias, plus the residual when RESIDUAL (an
// absent one is bound to a placeholder), then ReLU when RELU.

override RESIDUAL: bool = false;

@group(0) @binding(1) var<storage, read> input: array<Vec>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read> running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> output: array<Vec>;
@group(0) @binding(7) var<storage, read> residual: array<Vec>;

fn apply(i: u32, c: u32) {
  var v = (input[i] - Vec(running_mean[c])) * (weight[c] / sqrt(running_var[c] + p.eps)) + Vec(bias[c]);
  if (RESIDUAL) { v += residual[i]; }
  output[i] = select(v, max(v, Vec(0.0)), RELU);
}
