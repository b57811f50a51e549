// Softmax cross-entropy with label smoothing, one workgroup per sample (row of logits).
//
// `forward_backward` and `forward` write per-sample results [loss, top-1 hit, top-5 hit, real sample];
// `accumulate` adds their sums over the batch into the running statistics in a fixed order, so the
// statistics are deterministic. A label >= classes (0xFFFFFFFF by convention) marks a padding sample.
// The entry points use different buffers at the same binding numbers; no entry point uses two of them.
// Compiled after workgroup_reduce.wgsl, which declares WG, `sums` and reduce_sum.

struct Params {
  batch: u32,
  classes: u32,
  smoothing: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> per_sample: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> grad_logits: array<f32>;

// accumulate
@group(0) @binding(1) var<storage, read> sample_results: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

// argmax
@group(0) @binding(2) var<storage, read_write> predicted: array<u32>;

var<workgroup> best_index: array<u32, WG>;

const LOWEST = -3.4028234663852886e38; // -FLT_MAX exactly
// A thread that saw no logit, in argmax.
const NONE = 0xffffffffu;

fn reduce_max(value: f32, lid: u32) -> f32 {
  sums[lid].x = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      sums[lid].x = max(sums[lid].x, sums[lid + stride].x);
    }
    workgroupBarrier();
  }
  let top = sums[0].x;
  workgroupBarrier();
  return top;
}

// The row of the workgroup: rows are spread over x and y (see grid()). Entry points take these builtins as
// separate parameters, not in one struct, so that Tint's uniformity analysis sees that the row is uniform.
fn row_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

struct Row {
  label: u32,
  valid: bool,
  max_logit: f32,
  exp_sum: f32,
  loss: f32,
  // How many classes rank before the label: strictly larger logits, or equal ones at lower indices.
  rank: f32,
}

fn row_of(row: u32, lid: u32) -> Row {
  let classes = p.classes;
  let base = row * classes;
  let label = labels[row];
  let valid = label < classes;
  let label_logit = logits[base + min(label, classes - 1u)];

  var local_max = LOWEST;
  for (var j = lid; j < classes; j += WG) {
    local_max = max(local_max, logits[base + j]);
  }
  let m = reduce_max(local_max, lid);

  // x: sum of exp(x - m), y: sum of (x - m), z: rank of the label.
  var local = vec4f(0.0);
  for (var j = lid; j < classes; j += WG) {
    let x = logits[base + j];
    local.x += exp(x - m);
    local.y += x - m;
    if (x > label_logit || (x == label_logit && j < label)) {
      local.z += 1.0;
    }
  }
  let totals = reduce_sum(local, lid);

  // Written in max-shifted terms so that large logits lose no precision:
  // loss = lse - (1 - ls) * x_label - ls * mean(x), with lse = m + log(sum exp(x - m)).
  let loss = log(totals.x) - (1.0 - p.smoothing) * (label_logit - m) -
    p.smoothing * totals.y / f32(classes);
  return Row(label, valid, m, totals.x, select(0.0, loss, valid), totals.z);
}

fn store(row: u32, lid: u32, r: Row) {
  if (lid == 0u) {
    let real = select(0.0, 1.0, r.valid);
    per_sample[row] = vec4f(
      r.loss,
      select(0.0, 1.0, r.valid && r.rank < 1.0),
      select(0.0, 1.0, r.valid && r.rank < 5.0),
      real,
    );
  }
}

@compute @workgroup_size(WG)
fn forward_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_index(wid, nwg);
  if (row >= p.batch) {
    return;
  }
  // Every workgroup counts the real samples itself, so the host never needs to know the count.
  var real = 0.0;
  for (var j = lid; j < p.batch; j += WG) {
    real += select(0.0, 1.0, labels[j] < p.classes);
  }
  let count = reduce_sum(vec4f(real, 0.0, 0.0, 0.0), lid).x;

  let r = row_of(row, lid);
  store(row, lid, r);

  let base = row * p.classes;
  let scale = select(0.0, 1.0 / max(count, 1.0), r.valid);
  let off_target = p.smoothing / f32(p.classes);
  let on_target = 1.0 - p.smoothing + off_target;
  for (var j = lid; j < p.classes; j += WG) {
    let probability = exp(logits[base + j] - r.max_logit) / r.exp_sum;
    let target_probability = select(off_target, on_target, j == r.label);
    grad_logits[base + j] = (probability - target_probability) * scale;
  }
}

@compute @workgroup_size(WG)
fn forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_index(wid, nwg);
  if (row >= p.batch) {
    return;
  }
  store(row, lid, row_of(row, lid));
}

// One workgroup: stats[0..4] += sums over the batch of the per-sample results.
@compute @workgroup_size(WG)
fn accumulate(@builtin(local_invocation_index) lid: u32) {
  var local = vec4f(0.0);
  for (var j = lid; j < p.batch; j += WG) {
    local += sample_results[j];
  }
  let total = reduce_sum(local, lid);
  if (lid == 0u) {
    stats[0] += total.x;
    stats[1] += total.y;
    stats[2] += total.z;
    stats[3] += total.w;
  }
}

// predicted[row] = index of the largest logit (the lowest such index on ties).
@compute @workgroup_size(WG)
fn argmax(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = row_index(wid, nwg);
  if (row >= p.batch) {
    return;
  }
  let base = row * p.classes;
  var best = LOWEST;
  var index = NONE;
  for (var j = lid; j < p.classes; j += WG) {
    let x = logits[base + j];
    if (x > best || index == NONE) {
      best = x;
      index = j;
    }
  }
  sums[lid].x = best;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let other = sums[lid + stride].x;
      let other_index = best_index[lid + stride];
      let mine = sums[lid].x;
      let mine_index = best_index[lid];
      let better = other > mine || (other == mine && other_index < mine_index);
      if (other_index != NONE && (mine_index == NONE || better)) {
        sums[lid].x = other;
        best_index[lid] = other_index;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    predicted[row] = best_index[0];
  }
}
