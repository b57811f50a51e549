/**
 * Float64 CPU reference of softmax cross-entropy as PyTorch defines it
 * (`F.cross_entropy(logits, labels, reduction="mean", label_smoothing=ls)`), with the top-k hit counts the
 * GPU op accumulates.
 *
 * @module
 */

/** What {@linkcode crossEntropyReference} computes for one batch. */
export interface CrossEntropyResult {
  /** Mean of the per-sample losses over the real samples (0 when there are none). */
  loss: number;
  /** Per-sample losses, 0 for padding samples, `[batch]`. */
  losses: Float64Array;
  /** d(loss)/d(logits), `[batch, classes]`. */
  gradLogits: Float64Array;
  /** Real samples whose label ranks first. */
  top1: number;
  /** Real samples whose label ranks in the first five. */
  top5: number;
  /** Real samples. */
  count: number;
}

/**
 * Cross-entropy of `logits` (`[batch, classes]`, row-major) against `labels` with label smoothing `ls`.
 * Per real sample `loss = -sum_j target_j * log_softmax(x)_j` with
 * `target = (1 - ls) * onehot(label) + ls / classes`, averaged over the real samples; a label at or above
 * `classes` (0xFFFFFFFF by convention) marks a padding sample, which counts nowhere. The rank of a label
 * counts the logits strictly larger than its own plus the equal ones at lower indices.
 *
 * @example
 * ```ts
 * const r = crossEntropyReference([2, 0, -1], [0], 1, 3, 0);
 * console.log(r.loss, r.gradLogits);
 * ```
 */
export function crossEntropyReference(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  batch: number,
  classes: number,
  ls: number,
): CrossEntropyResult {
  const losses = new Float64Array(batch);
  const gradLogits = new Float64Array(batch * classes);
  let count = 0;
  for (let n = 0; n < batch; n++) if (labels[n] < classes) count++;
  let top1 = 0, top5 = 0, total = 0;
  for (let n = 0; n < batch; n++) {
    const label = labels[n];
    if (!(label < classes)) continue;
    const row = Array.from({ length: classes }, (_, j) => logits[n * classes + j]);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
    let loss = 0, rank = 0;
    for (let j = 0; j < classes; j++) {
      const target = (j === label ? 1 - ls : 0) + ls / classes;
      loss -= target * (row[j] - lse);
      gradLogits[n * classes + j] = (Math.exp(row[j] - lse) - target) / count;
      if (row[j] > row[label] || (row[j] === row[label] && j < label)) rank++;
    }
    losses[n] = loss;
    total += loss;
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  return { loss: count > 0 ? total / count : 0, losses, gradLogits, top1, top5, count };
}
