// One SGD step over a chunk of a parameter group, as torch.optim.SGD computes it:
//   g = clip * grad + weight_decay * w
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = g + momentum * buf (nesterov) or buf
//   w = w - lr * g
//
// The step is memory-bound, so the bulk of a chunk is read and written as vec4f, a few vec4f per
// invocation in a grid-stride loop, and the overrides leave out the work a group does not need (the
// multiply by a clip coefficient of 1 and the add of a zero weight decay change no value either).
// `plain` and `with_momentum` update `p.length` vec4fs; when a chunk's length is not a multiple of 4,
// `plain_tail` and `with_momentum_tail` update its last floats, [p.first, p.length) of a binding that starts
// at the chunk's last 256-byte boundary. The momentum-free entry points bind no momentum buffer.

override WG: u32 = 256u;
override CLIP: bool = false;
override WEIGHT_DECAY: bool = false;
override NESTEROV: bool = false;

struct Params {
  // vec4fs (plain, with_momentum) or floats of the binding (tails).
  length: u32,
  // Index of this chunk's group in step_state.lr.
  group: u32,
  momentum: f32,
  // 1 - dampening, computed on the host in double precision as PyTorch does.
  undamped: f32,
  weight_decay: f32,
  // Tails: the first float of the binding to update.
  first: u32,
}

// Written by the host before every step.
struct StepState {
  first: u32,
  lr: array<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> parameters: array<vec4f>;
@group(0) @binding(2) var<storage, read> grads: array<vec4f>;
@group(0) @binding(3) var<storage, read> step_state: StepState;
// [total gradient norm, clip coefficient]; read only when CLIP.
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> momentum_buffer: array<vec4f>;

// The tails' views of the same bindings.
@group(0) @binding(1) var<storage, read_write> tail_parameters: array<f32>;
@group(0) @binding(2) var<storage, read> tail_grads: array<f32>;
@group(0) @binding(5) var<storage, read_write> tail_momentum_buffer: array<f32>;

fn index_of(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn stride_of(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

// The gradient after clipping and weight decay. The tails pass single floats splatted to vec4f, so that
// both widths share one formula.
fn adjusted_gradient(w: vec4f, grad: vec4f) -> vec4f {
  var g = grad;
  if (CLIP) {
    g *= norm[1];
  }
  if (WEIGHT_DECAY) {
    g += p.weight_decay * w;
  }
  return g;
}

// The new momentum buffer from the adjusted gradient and the previous buffer (garbage on the first step).
fn next_momentum(g: vec4f, previous: vec4f) -> vec4f {
  if (step_state.first != 0u) {
    return g;
  }
  return p.momentum * previous + p.undamped * g;
}

// The direction of the step with momentum.
fn momentum_direction(g: vec4f, buf: vec4f) -> vec4f {
  if (NESTEROV) {
    return g + p.momentum * buf;
  }
  return buf;
}

@compute @workgroup_size(WG)
fn plain(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lr = step_state.lr[p.group];
  for (var i = index_of(gid, nwg); i < p.length; i += stride_of(nwg)) {
    let w = parameters[i];
    parameters[i] = w - lr * adjusted_gradient(w, grads[i]);
  }
}

@compute @workgroup_size(WG)
fn with_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lr = step_state.lr[p.group];
  for (var i = index_of(gid, nwg); i < p.length; i += stride_of(nwg)) {
    let w = parameters[i];
    let g = adjusted_gradient(w, grads[i]);
    let buf = next_momentum(g, momentum_buffer[i]);
    momentum_buffer[i] = buf;
    parameters[i] = w - lr * momentum_direction(g, buf);
  }
}

@compute @workgroup_size(WG)
fn plain_tail(@builtin(local_invocation_index) lid: u32) {
  let i = p.first + lid;
  if (i < p.length) {
    let w = tail_parameters[i];
    tail_parameters[i] = (w - step_state.lr[p.group] * adjusted_gradient(vec4f(w), vec4f(tail_grads[i]))).x;
  }
}

@compute @workgroup_size(WG)
fn with_momentum_tail(@builtin(local_invocation_index) lid: u32) {
  let i = p.first + lid;
  if (i < p.length) {
    let w = tail_parameters[i];
    let g = adjusted_gradient(vec4f(w), vec4f(tail_grads[i]));
    let buf = next_momentum(g, vec4f(tail_momentum_buffer[i]));
    tail_momentum_buffer[i] = buf.x;
    tail_parameters[i] = (w - step_state.lr[p.group] * momentum_direction(g, buf)).x;
  }
}
