/**
 * A parameter or buffer of a module: its name in PyTorch's `state_dict`, shape, values and role.
 *
 * @module
 */

/**
 * A parameter (trained) or buffer (running statistics, counters) of a module, held on the host.
 *
 * @example
 * ```ts
 * import { Parameter } from "@denogpu/resnet";
 * const weight = new Parameter([2, 3], "parameter"); // six zeros
 * console.log(weight.size, weight.requiresGrad); // 6 true
 * console.log(new Parameter([4], "buffer").requiresGrad); // false
 * ```
 */
export class Parameter {
  /** Full name as in PyTorch's `state_dict`, set when the model is named (e.g. `"layer1.0.conv1.weight"`). */
  name = "";
  /** Shape in PyTorch's layout. */
  readonly shape: readonly number[];
  /** Values; for `num_batches_tracked` a single count. */
  data: Float32Array;
  /** `"parameter"` is trained; `"buffer"` (running statistics, counters) is not. */
  readonly role: "parameter" | "buffer";
  /** As PyTorch's `requires_grad`: false freezes the parameter (no gradient, no update). */
  requiresGrad: boolean;
  /** Stored as int64 in checkpoints (`num_batches_tracked`). */
  readonly integer: boolean;

  /** Makes a parameter of `shape` holding `data` (zeros when omitted). */
  constructor(
    shape: readonly number[],
    role: "parameter" | "buffer",
    data?: Float32Array,
    integer = false,
  ) {
    this.shape = shape;
    this.role = role;
    this.data = data ?? new Float32Array(shape.reduce((a, b) => a * b, 1));
    this.requiresGrad = role === "parameter";
    this.integer = integer;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }
}
