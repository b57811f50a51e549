/**
 * Float64 CPU references of the element-wise ops: ReLU, its backward and the residual add.
 *
 * @module
 */

/** `max(x, 0)` element by element, as `torch.relu`. */
export function reluReference(input: ArrayLike<number>): Float64Array {
  return Float64Array.from(input, (v) => Math.max(v, 0));
}

/** ReLU's gradient: `gradOutput` where the forward `output` is positive, else 0 (`threshold_backward`). */
export function reluBackwardReference(
  output: ArrayLike<number>,
  gradOutput: ArrayLike<number>,
): Float64Array {
  return Float64Array.from(gradOutput, (g, i) => output[i] > 0 ? g : 0);
}

/** `a + b`, then ReLU when `relu` is true: the residual add that closes a ResNet block. */
export function addReference(a: ArrayLike<number>, b: ArrayLike<number>, relu: boolean): Float64Array {
  return Float64Array.from(a, (v, i) => relu ? Math.max(v + b[i], 0) : v + b[i]);
}
