/**
 * What one layer kind is to the rest of the library: an {@linkcode OpDefinition} infers the kind's output
 * shape while a model is traced, records its forward and backward dispatches while a step is compiled, and
 * names its row of the summary table. Definitions live with their op family (conv2d.ts, batchnorm.ts, ...)
 * and are listed once in {@link ./registry.ts}.
 *
 * Ops cannot see the compiler, so lowering goes through the context interfaces declared here, which the
 * compiler implements over its memory planner and parameter store. Everything a compiled op may depend on
 * reaches it through these contexts as a value.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch, Tensor } from "../gpu/kernel.ts";
import type { ConvTuning } from "./_conv_strategy.ts";

/** A tensor of a step being planned: a handle without storage, resolved to a {@linkcode Tensor} once planned. */
export interface StepTensor {
  /** Index in the plan. */
  readonly id: number;
  /** Shape including the batch dimension. */
  readonly shape: readonly number[];
  /** What it holds, for messages, e.g. `"layer1.0.conv1 output"`. */
  readonly label: string;
}

/**
 * One term of a gradient: `tensor` is the term, or with `splits` above 1 holds that many partial sums of it
 * one after another (shape `[splits, ...shape]`; a split-K convolution's, left for the reader to add).
 */
export interface GradientTerm {
  /** The term or its partial sums. */
  readonly tensor: StepTensor;
  /** Partial sums in `tensor`: 1 when it is the term itself. */
  readonly splits: number;
}

/** Named step tensors resolved to real ones (optional names stay optional). */
export type Resolved<T> = { [K in keyof T]: undefined extends T[K] ? Tensor | undefined : Tensor };

/** Records tensors and ops of one step; the compiler's memory planner implements it. */
export interface StepBuilder {
  /** The GPU the step runs on. */
  readonly gpu: Gpu;
  /** How the convolution and linear GEMMs are tiled and which algorithm they take (the step's option). */
  readonly tuning: ConvTuning;
  /**
   * A new tensor with its own storage (4-byte elements: f32 or u32). A tensor only one op touches is that
   * op's scratch, and shares storage with every tensor not alive at the same time.
   */
  tensor(shape: readonly number[], label: string): StepTensor;
  /** The same storage seen with another shape of the same size. */
  view(of: StepTensor, shape?: readonly number[]): StepTensor;
  /** The first of the partial sums that `of` (shape `[splits, ...shape]`) holds, seen as `shape`. */
  firstSplit(of: StepTensor): StepTensor;
  /**
   * Records an op over named tensors (read or written, `undefined` for an absent optional one); `make` is
   * called after allocation with the same names resolved to real tensors. Ops run in the order recorded.
   */
  op<T extends Record<string, StepTensor | undefined>>(
    label: string,
    tensors: T,
    make: (t: Resolved<T>) => Dispatch[],
  ): void;
}

/** What lowering one node sees in either pass. */
export interface NodeContext<S> extends StepBuilder {
  /** The node's name (its module path, e.g. `"layer1.0.bn1"`), which op and error labels start with. */
  readonly name: string;
  /** The label of the pass's main op: `"<name>: <kind>"`, with `" backward"` in the backward pass. */
  readonly label: string;
  /** What the node computes. */
  readonly spec: S;
  /** The forward values of the node's inputs, in order, batch first. */
  readonly inputs: readonly StepTensor[];
  /** The layer's parameter or buffer `localName` (`"weight"`, `"running_mean"`), if it has one. */
  parameter(localName: string): StepTensor | undefined;
}

/** Whether BatchNorm uses batch statistics (and updates running ones) or running statistics. */
export type Mode = "train" | "eval";

/** What a node's forward lowering sees. */
export interface ForwardContext<S> extends NodeContext<S> {
  /** The pass's mode. */
  readonly mode: Mode;
  /** The node's output shape, batch first. */
  readonly outputShape: readonly number[];
  /** A new tensor of {@linkcode ForwardContext.outputShape} for the node's output. */
  output(): StepTensor;
  /** Keeps `tensors` for the node's backward lowering, which sees them as `saved` in this order. */
  save(...tensors: StepTensor[]): void;
}

/** What a node's backward lowering sees. */
export interface BackwardContext<S> extends NodeContext<S> {
  /** The node's forward output. */
  readonly output: StepTensor;
  /** The gradient of the loss with respect to the output (summed from its terms, when first read). */
  readonly gradOutput: StepTensor;
  /**
   * The terms that sum to {@linkcode BackwardContext.gradOutput}, one per reader of the output: an op that
   * adds them (and their partial sums) as it reads them saves the separate sums, which are made only if
   * `gradOutput` is read.
   */
  readonly gradOutputTerms: readonly GradientTerm[];
  /** What the forward lowering saved, in order. */
  readonly saved: readonly StepTensor[];
  /** The gradient of the layer's parameter `localName`, or `undefined` when it is frozen or absent. */
  gradient(localName: string): StepTensor | undefined;
  /**
   * A new tensor for the gradient of input `index` (for `splits` partial sums of it when given, shape
   * `[splits, ...shape]`), or `undefined` when that input needs no gradient.
   */
  gradInput(index: number, splits?: number): StepTensor | undefined;
  /**
   * Adds `gradient` (of the input's shape, or `[splits, ...shape]`: partial sums) to input `index`'s
   * gradient (summed where the input fans out); a no-op if none is needed.
   */
  accumulate(index: number, gradient: StepTensor): void;
}

/** One layer kind: shape inference, forward and backward lowering, and its summary row. */
export interface OpDefinition<S extends { kind: string }> {
  /** The kind, as the spec's `kind` says. */
  readonly kind: S["kind"];
  /** The PyTorch class name the summary table shows, e.g. `"Conv2d"`. */
  readonly typeName: string;
  /**
   * The per-sample output shape for per-sample `inputs`; throws naming the layer (`name`) when they do not
   * fit `spec`.
   */
  inferShape(name: string, spec: S, inputs: readonly (readonly number[])[]): number[];
  /** Records the forward ops and returns the node's output value. */
  forward(context: ForwardContext<S>): StepTensor;
  /** Records the backward ops, handing each input its gradient with `accumulate`. */
  backward(context: BackwardContext<S>): void;
  /**
   * FLOPs of one forward pass per sample (multiply-add = 2); only compute-bound kinds (convolutions, linear
   * layers) define it, as FLOP counts are usually quoted.
   */
  forwardFlops?(spec: S, outputShape: readonly number[]): number;
}

/**
 * The output's gradient as an op that adds up to two terms as it reads them takes it: the terms, each with
 * its partial sums (`gradSplits` and `extraSplits` of them), the one of more first; or their sum when there
 * are more than two.
 */
export function twoTermGradient<S>(
  ctx: BackwardContext<S>,
): { gradOutput: StepTensor; gradExtra?: StepTensor; gradSplits: number; extraSplits: number } {
  const terms = [...ctx.gradOutputTerms].sort((a, b) => b.splits - a.splits);
  if (terms.length <= 2) {
    const [first, extra] = terms;
    return {
      gradOutput: first.tensor,
      gradExtra: extra?.tensor,
      gradSplits: first.splits,
      extraSplits: extra?.splits ?? 1,
    };
  }
  return { gradOutput: ctx.gradOutput, gradSplits: 1, extraSplits: 1 };
}

/** A shape as messages write it: `[64, 56, 56]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The error of a layer whose input does not have the `expected` shape. */
export function inputShapeError(name: string, kind: string, expected: string, got: readonly number[]): Error {
  return new Error(`${name} (${kind}): expected input of shape ${expected}, got ${formatShape(got)}`);
}
