/**
 * Layer kinds that compute nothing: the graph's input, `nn.Identity` and `nn.Flatten`. Each forward value
 * is a view of its input's storage, and each gradient a view of the output's gradient.
 *
 * @module
 */

import type { BackwardContext, ForwardContext, OpDefinition, StepTensor } from "./op.ts";

/** The graph's input, which the step binds to the batch it reads. */
export interface InputSpec {
  /** The kind. */
  kind: "input";
}

/** A `nn.Identity` node of a traced graph (e.g. torchvision's replaced classifier). */
export interface IdentitySpec {
  /** The kind. */
  kind: "identity";
}

/** A `nn.Flatten` node of a traced graph: `[C, H, W]` to `[C * H * W]`. */
export interface FlattenSpec {
  /** The kind. */
  kind: "flatten";
}

function viewForward(ctx: ForwardContext<unknown>): StepTensor {
  return ctx.view(ctx.inputs[0], ctx.outputShape);
}

function viewBackward(ctx: BackwardContext<unknown>): void {
  ctx.accumulate(0, ctx.view(ctx.gradOutput, ctx.inputs[0].shape));
}

/** The graph's input as a layer kind; its forward value is the step's input batch. */
export const inputOp: OpDefinition<InputSpec> = {
  kind: "input",
  typeName: "Input",
  inferShape: (_name, _spec, [x]) => [...x],
  forward: (ctx) => ctx.inputs[0],
  // Nothing lies below the input: no gradient is asked of it.
  backward: () => {},
};

/** `nn.Identity` as a layer kind. */
export const identityOp: OpDefinition<IdentitySpec> = {
  kind: "identity",
  typeName: "Identity",
  inferShape: (_name, _spec, [x]) => [...x],
  forward: viewForward,
  backward: viewBackward,
};

/** `nn.Flatten` as a layer kind. */
export const flattenOp: OpDefinition<FlattenSpec> = {
  kind: "flatten",
  typeName: "Flatten",
  inferShape: (_name, _spec, [x]) => [x.reduce((a, b) => a * b, 1)],
  forward: viewForward,
  backward: viewBackward,
};
