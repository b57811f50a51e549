// grad_bias[c] = sum over n and pixels of grad_output[n, c, pixel]: one workgroup per channel, each
// invocation sums a strided share, then a tree reduction in workgroup memory.

override WG: u32 = 64u; // a power of two
override BATCH: u32;
override CHANNELS: u32;
override PIXELS: u32; // per image and channel

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad_bias: array<f32>;

var<workgroup> sums: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let c = wid.x;
  var sum = 0.0;
  for (var i = lid; i < BATCH * PIXELS; i += WG) {
    let n = i / PIXELS;
    sum += grad_output[(n * CHANNELS + c) * PIXELS + i % PIXELS];
  }
  sums[lid] = sum;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      sums[lid] += sums[lid + half];
    }
  }
  if (lid == 0u) {
    grad_bias[c] = sums[0];
  }
}
