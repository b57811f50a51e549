/**
 * Fully connected layer (PyTorch's `nn.Linear`: `y = x W^T + b`, weight `[outFeatures, inFeatures]`),
 * run as a 1x1 convolution over 1x1 images: a plain GEMM with the convolution kernels' tiling.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, Tensor } from "../gpu/kernel.ts";
import { checkTensor } from "./_conv_kernels.ts";
import {
  backwardDataOp,
  backwardDataOpParts,
  backwardWeightOp,
  backwardWeightOpParts,
  forwardOp,
} from "./_conv_chunks.ts";
import { declareScratch, mergeParts, opScratch, type Scratch, scratchOf } from "./_scratch.ts";
import { asConvolution, type LinearSizes } from "./_conv_geometry.ts";
import { type ConvTuning, UNTUNED } from "./_conv_strategy.ts";
import { inputShapeError, type OpDefinition } from "./op.ts";

export type { LinearSizes } from "./_conv_geometry.ts";

/**
 * The dispatches that compute `output = input weight^T + bias` (bias optional), tiled as `tuning` says
 * (default: untuned; the convolution GEMMs' tuning).
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { linearForward } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, inFeatures: 3, outFeatures: 2 };
 * const input = tensor(gpu.upload("x", new Float32Array([1, 2, 3, 4, 5, 6])), [2, 3]);
 * const weight = tensor(gpu.upload("w", new Float32Array([1, 0, 0, 0, 1, 0])), [2, 3]);
 * const bias = tensor(gpu.upload("b", new Float32Array([10, 20])), [2]);
 * const output = tensor(gpu.buffer("y", 4 * 4), [2, 2]);
 * submit(gpu, linearForward(gpu, s, { input, weight, bias, output }, "fc"));
 * console.log(await gpu.readFloats(output.buffer, 0, 4)); // [11, 22, 14, 25]
 * ```
 */
export function linearForward(
  gpu: Gpu,
  s: LinearSizes,
  t: { input: Tensor; weight: Tensor; bias?: Tensor; output: Tensor },
  label: string,
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  const g = asConvolution(s);
  checkTensor(gpu, label, "input", t.input, s.batch * s.inFeatures, true);
  checkTensor(gpu, label, "weight", t.weight, s.outFeatures * s.inFeatures);
  if (t.bias) checkTensor(gpu, label, "bias", t.bias, s.outFeatures);
  checkTensor(gpu, label, "output", t.output, s.batch * s.outFeatures, true);
  const { input, weight, output } = t;
  return forwardOp(gpu, g, { input, weight, output }, { bias: t.bias }, `${label}: linear forward`, tuning);
}

/**
 * The dispatches of the backward pass. Each of gradInput/gradWeight/gradBias is computed only when given;
 * gradients are overwritten, not accumulated; `tuning` as for {@linkcode linearForward}.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { submit, tensor } from "@denogpu/resnet/ops";
 * import { linearBackward } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const s = { batch: 2, inFeatures: 3, outFeatures: 2 };
 * const input = tensor(gpu.upload("x", new Float32Array(6).fill(1)), [2, 3]);
 * const weight = tensor(gpu.upload("w", new Float32Array(6).fill(0.5)), [2, 3]);
 * const gradOutput = tensor(gpu.upload("dy", new Float32Array(4).fill(1)), [2, 2]);
 * const gradWeight = tensor(gpu.buffer("dw", 6 * 4), [2, 3]);
 * submit(gpu, linearBackward(gpu, s, { input, weight, gradOutput, gradWeight }, "fc"));
 * ```
 */
export function linearBackward(
  gpu: Gpu,
  s: LinearSizes,
  t: {
    input: Tensor;
    weight: Tensor;
    gradOutput: Tensor;
    gradInput?: Tensor;
    gradWeight?: Tensor;
    gradBias?: Tensor;
    scratch?: Scratch;
  },
  label: string,
  tuning: ConvTuning = UNTUNED,
): Dispatch[] {
  const g = asConvolution(s);
  checkTensor(gpu, label, "input", t.input, s.batch * s.inFeatures, true);
  checkTensor(gpu, label, "weight", t.weight, s.outFeatures * s.inFeatures);
  checkTensor(gpu, label, "gradOutput", t.gradOutput, s.batch * s.outFeatures, true);
  if (t.gradInput) checkTensor(gpu, label, "gradInput", t.gradInput, s.batch * s.inFeatures, true);
  if (t.gradWeight) checkTensor(gpu, label, "gradWeight", t.gradWeight, s.outFeatures * s.inFeatures);
  if (t.gradBias) checkTensor(gpu, label, "gradBias", t.gradBias, s.outFeatures);
  const which = { gradInput: t.gradInput !== undefined, gradWeight: t.gradWeight !== undefined };
  const parts = linearBackwardScratchParts(gpu, s, { ...which, gradBias: t.gradBias !== undefined }, tuning);
  const scratch = opScratch(gpu, t.scratch, parts, `${label}: linear backward`);
  const dispatches: Dispatch[] = [];
  if (t.gradInput) {
    const { gradOutput, weight, gradInput } = t;
    dispatches.push(
      ...backwardDataOp(
        gpu,
        g,
        { gradOutput, weight, gradInput, scratch },
        `${label}: linear backward-input`,
        tuning,
      ),
    );
  }
  dispatches.push(...backwardWeightOp(gpu, g, { ...t, scratch }, {
    weight: `${label}: linear backward-weight`,
    bias: `${label}: linear bias gradient`,
  }, tuning));
  return dispatches;
}

/**
 * Scratch parts {@linkcode linearBackward} needs for the gradients `which` says: the backward-input GEMM's,
 * then (over the same parts) the weight and bias gradients'.
 */
function linearBackwardScratchParts(
  gpu: Gpu,
  s: LinearSizes,
  which: { gradInput: boolean; gradWeight: boolean; gradBias: boolean },
  tuning: ConvTuning,
): number[] {
  const g = asConvolution(s);
  return mergeParts(
    which.gradInput ? backwardDataOpParts(gpu, g, tuning) : [],
    backwardWeightOpParts(gpu, g, { weight: which.gradWeight, bias: which.gradBias }, tuning),
  );
}

/** A `nn.Linear` node of a traced graph. */
export interface LinearSpec {
  /** The kind. */
  kind: "linear";
  /** Features per input sample. */
  inFeatures: number;
  /** Features per output sample. */
  outFeatures: number;
  /** Whether the layer adds a bias. */
  bias: boolean;
}

/** `nn.Linear` as a layer kind. */
export const linearOp: OpDefinition<LinearSpec> = {
  kind: "linear",
  typeName: "Linear",
  inferShape(name, spec, [x]) {
    if (x.length !== 1 || x[0] !== spec.inFeatures) {
      throw inputShapeError(name, spec.kind, `[${spec.inFeatures}]`, x);
    }
    return [spec.outFeatures];
  },
  forward(ctx) {
    const [input] = ctx.inputs;
    const s = { batch: input.shape[0], inFeatures: ctx.spec.inFeatures, outFeatures: ctx.spec.outFeatures };
    const output = ctx.output();
    const tensors = { input, weight: ctx.parameter("weight")!, bias: ctx.parameter("bias"), output };
    ctx.op(ctx.label, tensors, (t) => linearForward(ctx.gpu, s, t, ctx.name, ctx.tuning));
    return output;
  },
  backward(ctx) {
    const [input] = ctx.inputs;
    const s = { batch: input.shape[0], inFeatures: ctx.spec.inFeatures, outFeatures: ctx.spec.outFeatures };
    const gradInput = ctx.gradInput(0);
    const gradWeight = ctx.gradient("weight");
    const gradBias = ctx.gradient("bias");
    const which = { gradInput: !!gradInput, gradWeight: !!gradWeight, gradBias: !!gradBias };
    const parts = linearBackwardScratchParts(ctx.gpu, s, which, ctx.tuning);
    const tensors = {
      input,
      weight: ctx.parameter("weight")!,
      gradOutput: ctx.gradOutput,
      gradInput,
      gradWeight,
      gradBias,
      ...declareScratch(ctx, parts, ctx.label),
    };
    ctx.op(
      ctx.label,
      tensors,
      (t) => linearBackward(ctx.gpu, s, { ...t, scratch: scratchOf(t) }, ctx.name, ctx.tuning),
    );
    if (gradInput) ctx.accumulate(0, gradInput);
  },
  forwardFlops: (spec) => 2 * spec.inFeatures * spec.outFeatures,
};
