// The input gradient of train-mode BatchNorm2d (after the prelude and batchnorm_elementwise.wgsl), with the
// fused ReLU's mask when RELU:
// grad_x = (g - mean(g) - (x - mean) * mean(g * (x - mean)) * inv_std^2) * weight * inv_std, with the
// per-channel coefficients batchnorm_backward.wgsl's `finalize` stored.

@group(0) @binding(1) var<storage, read> x: array<Vec>;
@group(0) @binding(2) var<storage, read> y: array<Vec>;
@group(0) @binding(3) var<storage, read> grad_y: array<Vec>;
// Per channel: (mean(g), mean(g * (x - mean)) * inv_std^2, weight * inv_std, mean).
@group(0) @binding(4) var<storage, read> coefficients: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<Vec>;

fn apply(i: u32, c: u32) {
  let k = coefficients[c];
  var g = grad_y[i];
  if (RELU) { g = select(Vec(0.0), g, y[i] > Vec(0.0)); }
  grad_x[i] = (g - Vec(k.x) - (x[i] - Vec(k.w)) * k.y) * k.z;
}
