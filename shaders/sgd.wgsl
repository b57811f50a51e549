// One SGD step over a chunk of a parameter group, as torch.optim.SGD computes it:
//   g = clip * grad + weight_decay * w
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = g + momentum * buf (nesterov) or buf
//   w = w - lr * g
// `plain` is the momentum-free step, which binds no momentum buffer.

override WG: u32 = 256u;

struct Params {
  length: u32,
  // Index of this chunk's group in step_state.lr.
  group: u32,
  momentum: f32,
  // 1 - dampening, computed on the host in double precision as PyTorch does.
  undamped: f32,
  weight_decay: f32,
  nesterov: u32,
}

// Written by the host before every step.
struct StepState {
  first: u32,
  lr: array<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> parameters: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read> step_state: StepState;
// [total gradient norm, clip coefficient]; the coefficient is 1 when clipping is off.
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> momentum_buffer: array<f32>;

@compute @workgroup_size(WG)
fn with_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.length) {
    return;
  }
  let w = parameters[i];
  var g = grads[i] * norm[1] + p.weight_decay * w;
  var buf = g;
  if (step_state.first == 0u) {
    buf = p.momentum * momentum_buffer[i] + p.undamped * g;
  }
  momentum_buffer[i] = buf;
  if (p.nesterov != 0u) {
    g = g + p.momentum * buf;
  } else {
    g = buf;
  }
  parameters[i] = w - step_state.lr[p.group] * g;
}

@compute @workgroup_size(WG)
fn plain(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.length) {
    return;
  }
  let w = parameters[i];
  let g = grads[i] * norm[1] + p.weight_decay * w;
  parameters[i] = w - step_state.lr[p.group] * g;
}
