// Train-mode BatchNorm2d's output (after vec4.wgsl or vec1.wgsl and batchnorm_elementwise.wgsl):
// y = ((x - shift) - (mean - shift)) * weight / std + bias, then ReLU when RELU, with the per-channel
// coefficients batchnorm_train.wgsl's `finalize` stored. x - shift is exact for values near the shift, so
// the mean's rounding does not enter the result.

@group(0) @binding(1) var<storage, read> input: array<Vec>;
// Per channel: (shift, mean - shift, weight / std, bias).
@group(0) @binding(2) var<storage, read> coefficients: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> output: array<Vec>;

fn apply(i: u32, c: u32) {
  let k = coefficients[c];
  let v = ((input[i] - Vec(k.x)) - Vec(k.y)) * k.z + Vec(k.w);
  output[i] = select(v, max(v, Vec(0.0)), RELU);
}
