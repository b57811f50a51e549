/**
 * Element-wise ops: ReLU, its backward, and the residual add of a ResNet block (with an optional fused ReLU;
 * the same op sums the two gradients that meet at a fork).
 *
 * @module
 */

import code from "../../shaders/elementwise.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, kernel, numel, type Tensor } from "../gpu/kernel.ts";
import { formatShape, type OpDefinition } from "./op.ts";
import { sumSlicesDispatch } from "./_conv_kernels.ts";

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
    uniforms: { count },
    bindings: tensors,
    workgroups: grid(count, WORKGROUP_SIZE),
  })];
}

/**
 * `output = max(input, 0)` over `count` floats.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { reluForward, submit, tensor } from "@denogpu/resnet/ops";
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

/**
 * ReLU's backward: `gradInput = gradOutput` where the forward `output > 0`, else 0.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { reluBackward, submit, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const output = tensor(gpu.upload("y", new Float32Array([0, 2])), [2]);
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array([5, 5])), [2]);
 * const gradInput = tensor(gpu.buffer("dx", 8), [2]);
 * submit(gpu, reluBackward(gpu, 2, { output, gradOutput, gradInput }, "relu"));
 * console.log(await gpu.readFloats(gradInput.buffer, 0, 2)); // [0, 5]
 * ```
 *
 * @throws {Error} Naming `label` when a tensor does not hold `count` elements.
 */
export function reluBackward(
  gpu: Gpu,
  count: number,
  t: { output: Tensor; gradOutput: Tensor; gradInput: Tensor },
  label: string,
): Dispatch[] {
  return elementwise(gpu, label, "relu backward", "relu_backward", count, {
    forwardOutput: t.output,
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
 * import { Gpu } from "@denogpu/resnet";
 * import { add, submit, tensor } from "@denogpu/resnet/ops";
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
  return elementwise(gpu, label, "residual add", "add", count, { a: t.a, b: t.b, sum: t.output }, {
    RELU: o.relu ? 1 : 0,
  });
}

/**
 * `total = sum of partial[s * count .. (s + 1) * count)` over `s < splits`, in order: the partial sums a
 * split-K convolution left (see `conv2dBackwardData`), added where no reader adds them as it reads.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, sumSplits, tensor } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const partial = tensor(gpu.upload("partial", new Float32Array([1, 2, 10, 20])), [2, 2]);
 * const total = tensor(gpu.buffer("total", 8), [2]);
 * submit(gpu, sumSplits(gpu, 2, 2, { partial, total }, "layer1.0.conv1"));
 * console.log(await gpu.readFloats(total.buffer, 0, 2)); // [11, 22]
 * ```
 */
export function sumSplits(
  gpu: Gpu,
  count: number,
  splits: number,
  t: { partial: Tensor; total: Tensor },
  label: string,
): Dispatch[] {
  const name = `${label}: gradient split sum`;
  expectElements(name, { partial: t.partial }, splits * count);
  expectElements(name, { total: t.total }, count);
  return [sumSlicesDispatch(gpu, t, splits, count, name)];
}

/** A `nn.ReLU` node of a traced graph. */
export interface ReluSpec {
  /** The kind. */
  kind: "relu";
}

/** `nn.ReLU` as a layer kind, where the compiler's rewrites did not fuse it into its producer. */
export const reluOp: OpDefinition<ReluSpec> = {
  kind: "relu",
  typeName: "ReLU",
  inferShape: (_name, _spec, [x]) => [...x],
  forward(ctx) {
    const [input] = ctx.inputs;
    const output = ctx.output();
    const count = numel(output.shape);
    ctx.op(ctx.label, { input, output }, (t) => reluForward(ctx.gpu, count, t, ctx.name));
    return output;
  },
  backward(ctx) {
    const gradInput = ctx.gradInput(0);
    if (!gradInput) return;
    const { output, gradOutput } = ctx;
    const count = numel(output.shape);
    ctx.op(ctx.label, { output, gradOutput, gradInput }, (t) => reluBackward(ctx.gpu, count, t, ctx.name));
    ctx.accumulate(0, gradInput);
  },
};

/** The residual add `a + b` of a traced graph. */
export interface AddSpec {
  /** The kind. */
  kind: "add";
  /** Whether a ReLU follows, fused into this op by the compiler's rewrites. */
  relu?: boolean;
}

/** The residual add as a layer kind, with an optional fused ReLU. */
export const addOp: OpDefinition<AddSpec> = {
  kind: "add",
  typeName: "Add",
  inferShape(name, _spec, [a, b]) {
    const [branch, shortcut] = [formatShape(a), formatShape(b)];
    if (branch !== shortcut) {
      throw new Error(
        `${name} (add): the residual branch has shape ${branch} but the shortcut has ${shortcut}`,
      );
    }
    return [...a];
  },
  forward(ctx) {
    const [a, b] = ctx.inputs;
    const output = ctx.output();
    const options = { relu: ctx.spec.relu ?? false };
    const count = numel(output.shape);
    ctx.op(ctx.label, { a, b, output }, (t) => add(ctx.gpu, count, t, options, ctx.name));
    return output;
  },
  backward(ctx) {
    const { output, gradOutput, name } = ctx;
    let gradSum = gradOutput;
    if (ctx.spec.relu) {
      gradSum = ctx.tensor(gradOutput.shape, `${name} gradient`);
      const count = numel(output.shape);
      ctx.op(
        `${name}: relu backward`,
        { output, gradOutput, gradInput: gradSum },
        (t) => reluBackward(ctx.gpu, count, t, name),
      );
    }
    ctx.accumulate(0, gradSum);
    ctx.accumulate(1, gradSum);
  },
};
