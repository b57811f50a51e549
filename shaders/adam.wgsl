// One Adam or AdamW step over a chunk of a parameter group, in the order of operations of torch 1.13's
// `_single_tensor_adam` / `_single_tensor_adamw`, so that float32 rounding matches PyTorch's:
//   g = clip * grad, then g = g + weight_decay * w (Adam's L2 penalty)
//   w = w * decay (AdamW: decay = 1 - lr * weight_decay; 1 for Adam, which changes no value)
//   m = m * beta1 + g * (1 - beta1)
//   v = v * beta2 + (1 - beta2) * g * g
//   v_max = max(v_max, v) (amsgrad), the denominator's moment
//   w = w + (-step_size) * m / (sqrt(v or v_max) / sqrt(bias_correction2) + eps)
// The per-step scalars (step_size = lr / (1 - beta1^step), sqrt(1 - beta2^step) and decay) are computed on
// the host in double precision, as PyTorch computes them with Python floats, and written before each step.
//
// Like sgd.wgsl, the bulk of a chunk is read and written as vec4f in a grid-stride loop, and `*_tail`
// entry points update the last `length % 4` floats of a chunk, [p.first, p.length) of a binding that
// starts at the chunk's last 256-byte boundary. The amsgrad entry points are separate because an entry
// point binds every buffer it names, and groups without amsgrad keep no `max_exp_avg_sq`.

override WG: u32 = 256u;
override CLIP: bool = false;
override WEIGHT_DECAY: bool = false;

struct Params {
  // vec4fs (the bulk entry points) or floats of the binding (tails).
  length: u32,
  // Index of this chunk's group in step_state.
  group: u32,
  beta1: f32,
  // 1 - beta1 and 1 - beta2, computed on the host in double precision as PyTorch does.
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  // Adam's L2 penalty; AdamW's decoupled decay comes through step_state.decay instead.
  weight_decay: f32,
  // Tails: the first float of the binding to update.
  first: u32,
}

// A group's scalars of this step, written by the host.
struct GroupStep {
  step_size: f32,
  bias_correction2_sqrt: f32,
  decay: f32,
  unused: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> parameters: array<vec4f>;
@group(0) @binding(2) var<storage, read> grads: array<vec4f>;
@group(0) @binding(3) var<storage, read> step_state: array<GroupStep>;
// [total gradient norm, clip coefficient]; read only when CLIP.
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> exp_avg: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> exp_avg_sq: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> max_exp_avg_sq: array<vec4f>;

// The tails' views of the same bindings.
@group(0) @binding(1) var<storage, read_write> tail_parameters: array<f32>;
@group(0) @binding(2) var<storage, read> tail_grads: array<f32>;
@group(0) @binding(5) var<storage, read_write> tail_exp_avg: array<f32>;
@group(0) @binding(6) var<storage, read_write> tail_exp_avg_sq: array<f32>;
@group(0) @binding(7) var<storage, read_write> tail_max_exp_avg_sq: array<f32>;

fn index_of(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn stride_of(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

// The gradient after clipping and the L2 penalty. The tails pass single floats splatted to vec4f, so that
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

fn first_moment(m: vec4f, g: vec4f) -> vec4f {
  return m * p.beta1 + g * p.one_minus_beta1;
}

fn second_moment(v: vec4f, g: vec4f) -> vec4f {
  return v * p.beta2 + p.one_minus_beta2 * g * g;
}

// The new parameter from the old one, the first moment and the second moment the denominator uses.
fn updated(w: vec4f, m: vec4f, v: vec4f) -> vec4f {
  let s = step_state[p.group];
  let denom = sqrt(v) / s.bias_correction2_sqrt + p.eps;
  return w * s.decay + (-s.step_size * m) / denom;
}

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = index_of(gid, nwg); i < p.length; i += stride_of(nwg)) {
    let w = parameters[i];
    let g = adjusted_gradient(w, grads[i]);
    let m = first_moment(exp_avg[i], g);
    let v = second_moment(exp_avg_sq[i], g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    parameters[i] = updated(w, m, v);
  }
}

@compute @workgroup_size(WG)
fn amsgrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = index_of(gid, nwg); i < p.length; i += stride_of(nwg)) {
    let w = parameters[i];
    let g = adjusted_gradient(w, grads[i]);
    let m = first_moment(exp_avg[i], g);
    let v = second_moment(exp_avg_sq[i], g);
    let v_max = max(max_exp_avg_sq[i], v);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    max_exp_avg_sq[i] = v_max;
    parameters[i] = updated(w, m, v_max);
  }
}

@compute @workgroup_size(WG)
fn adam_tail(@builtin(local_invocation_index) lid: u32) {
  let i = p.first + lid;
  if (i < p.length) {
    let w = vec4f(tail_parameters[i]);
    let g = adjusted_gradient(w, vec4f(tail_grads[i]));
    let m = first_moment(vec4f(tail_exp_avg[i]), g);
    let v = second_moment(vec4f(tail_exp_avg_sq[i]), g);
    tail_exp_avg[i] = m.x;
    tail_exp_avg_sq[i] = v.x;
    tail_parameters[i] = updated(w, m, v).x;
  }
}

@compute @workgroup_size(WG)
fn amsgrad_tail(@builtin(local_invocation_index) lid: u32) {
  let i = p.first + lid;
  if (i < p.length) {
    let w = vec4f(tail_parameters[i]);
    let g = adjusted_gradient(w, vec4f(tail_grads[i]));
    let m = first_moment(vec4f(tail_exp_avg[i]), g);
    let v = second_moment(vec4f(tail_exp_avg_sq[i]), g);
    let v_max = max(vec4f(tail_max_exp_avg_sq[i]), v);
    tail_exp_avg[i] = m.x;
    tail_exp_avg_sq[i] = v.x;
    tail_max_exp_avg_sq[i] = v_max.x;
    tail_parameters[i] = updated(w, m, v_max).x;
  }
}
