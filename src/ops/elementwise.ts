/**
 * Element-wise ops: ReLU, its backward, and the residual add of a ResNet block (with an optional fused ReLU;
 * the same op sums the two gradients that meet at a fork).
 *
 * @module
 */

import code from "../../shaders/elementwise.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, numel, params, type Tensor } from "../gpu/kernel.ts";

const WORKGROUP_SIZE = 256;

function expectElements(label: string, tensors: Record<string, Tensor>, count: number): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (numel(t.shape) !== count) {
      throw new Error(`${label}: ${name} has ${numel(t.shape)} elements, expected ${count}`);
    }
  }
}

function elementwise(
  gpu: Gpu,
  label: string,
  op: string,
  entryPoint: string,
  count: number,
  tensors: Record<string, Tensor>,
  constants: Record<string, number> = {},
): Dispatch[] {
  expectElements(label, tensors, count);
  return [kernel(gpu, {
    label: `${label}: ${op}`,
    code,
    entryPoint,
    constants: { WG: WORKGROUP_SIZE, ...constants },
    uniforms: params(count),
    tensors: Object.values(tensors),
    workgroups: grid(count, WORKGROUP_SIZE),
  })];
}

/**
 * `output = max(input, 0)` over `count` floats.
 *
 * @example
 * ```ts
 * import { Gpu, reluForward, submit, tensor } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const input = tensor(gpu.upload("x", new Float32Array([-1, 2])), [2]);
 * const output = tensor(gpu.buffer("y", 8), [2]);
 * submit(gpu, reluForward(gpu, 2, { input, output }, "relu"));
 * console.log(await gpu.readFloats(output.buffer, 0, 2)); // [0, 2]
 * ```
 */
export function reluForward(
  gpu: Gpu,
  count: number,
  t: { input: Tensor; output: Tensor },
  label: string,
): Dispatch[] {
  return elementwise(gpu, label, "relu", "relu", count, { input: t.input, output: t.output });
}

/** ReLU's backward: `gradInput = gradOutput` where the forward `output > 0`, else 0. */
export function reluBackward(
  gpu: Gpu,
  count: number,
  t: { output: Tensor; gradOutput: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  return elementwise(gpu, label, "relu backward", "relu_backward", count, {
    output: t.output,
    gradOutput: t.gradOutput,
    gradInput: t.gradInput,
  });
}

/**
 * `output = a + b`, then ReLU when `relu` is true: the residual add that closes a ResNet block, and the sum
 * of the gradients of a tensor used twice.
 *
 * @example
 * ```ts
 * import { add, Gpu, submit, tensor } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const a = tensor(gpu.upload("a", new Float32Array([1, -3])), [2]);
 * const b = tensor(gpu.upload("b", new Float32Array([1, 1])), [2]);
 * const output = tensor(gpu.buffer("sum", 8), [2]);
 * submit(gpu, add(gpu, 2, { a, b, output }, { relu: true }, "layer1.0"));
 * console.log(await gpu.readFloats(output.buffer, 0, 2)); // [2, 0]
 * ```
 */
export function add(
  gpu: Gpu,
  count: number,
  t: { a: Tensor; b: Tensor; output: Tensor },
  o: { relu: boolean },
  label: string,
): Dispatch[] {
  return elementwise(gpu, label, "residual add", "add", count, { a: t.a, b: t.b, output: t.output }, {
    RELU: o.relu ? 1 : 0,
  });
}
