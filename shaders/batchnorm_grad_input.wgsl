// The input gradient of train-mode BatchNorm2d (after vec4.wgsl or vec1.wgsl and batchnorm_elementwise.wgsl), with the
// fused ReLU's mask when RELU:
// grad_x = (g - mean(g) - (x - mean) * mean(g * (x - mean)) * inv_std^2) * weight * inv_std, with the
// per-channel coefficients batchnorm_backward.wgsl's `finalize` stored.

@group(0) @binding(1) var<storage, read> input: array<Vec>;
@group(0) @binding(2) var<storage, read> output: array<Vec>;
@group(0) @binding(3) var<storage, read> grad_output: array<Vec>;
// Per channel: (mean(g), mean(g * (x - mean)) * inv_std^2, weight * inv_std, mean).
@group(0) @binding(4) var<storage, read> coefficients: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> grad_input: array<Vec>;

fn apply(i: u32, c: u32) {
  let k = coefficients[c];
  var g = grad_output[i];
  if (RELU) { g = select(Vec(0.0), g, output[i] > Vec(0.0)); }
  grad_input[i] = (g - Vec(k.x) - (input[i] - Vec(k.w)) * k.y) * k.z;
}
