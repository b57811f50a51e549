// Element-wise ops over `count` floats, one invocation per element: ReLU, ReLU's backward and the residual
// add (with an optional fused ReLU). Each entry point has its own bindings; WGSL only requires bindings to
// be distinct within one entry point's interface.

override WG: u32 = 256u;
override RELU: bool = false; // `add` only: rectify the sum

struct Params { count: u32 }

@group(0) @binding(0) var<uniform> p: Params;

// relu
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// relu_backward
@group(0) @binding(1) var<storage, read> forward_output: array<f32>;
@group(0) @binding(2) var<storage, read> grad_output: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_input: array<f32>;

// add
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> sum: array<f32>;

fn element(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = element(gid, nwg);
  if (i < p.count) { output[i] = max(input[i], 0.0); }
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = element(gid, nwg);
  if (i < p.count) { grad_input[i] = select(0.0, grad_output[i], forward_output[i] > 0.0); }
}

@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = element(gid, nwg);
  if (i < p.count) {
    let v = a[i] + b[i];
    sum[i] = select(v, max(v, 0.0), RELU);
  }
}
