/**
 * Lowers a graph to GPU ops on a {@linkcode StepPlanner} through the op registry: the forward pass in train
 * or eval mode, and the backward pass in reverse graph order, which sums gradients where a tensor fans out
 * and stops below the lowest layer that still needs a gradient. Fusions are not made here: the graph comes
 * rewritten (see {@link ./fuse.ts}), and each node lowers as its kind's definition says.
 *
 * @module
 */

import { numel } from "../gpu/kernel.ts";
import type { Graph, LayerSpec, Node } from "../nn/graph.ts";
import type { Parameter } from "../nn/parameter.ts";
import type { ConvTuning } from "../ops/conv2d.ts";
import { add, sumSplits } from "../ops/elementwise.ts";
import type { BackwardContext, GradientTerm, Mode, NodeContext, StepBuilder } from "../ops/op.ts";
import { opDefinition } from "../ops/registry.ts";
import type { GpuModel } from "./gpu_model.ts";
import type { StepPlanner, VirtualTensor } from "./memory.ts";

/** What {@linkcode lowerForward} returns. */
export interface Forward {
  /** Each node's output. */
  values: VirtualTensor[];
  /** The graph's output (the logits). */
  output: VirtualTensor;
  /** Per node, what its forward lowering saved for backward (BatchNorm statistics, max-pool indices). */
  saved: VirtualTensor[][];
}

/** The planner seen through the interface op definitions record against. */
function stepBuilder(planner: StepPlanner, model: GpuModel, tuning: ConvTuning): StepBuilder {
  return {
    gpu: model.gpu,
    tuning,
    tensor: (shape, label) => planner.tensor(shape, label),
    view: (of, shape) => planner.view(of, shape),
    firstSplit: (of) => planner.firstSplit(of),
    op(label, tensors, make) {
      planner.op(label, tensors, make);
    },
  };
}

/** What lowering `node` sees in either pass: the step, the node, and its parameters' values. */
function nodeContext(
  planner: StepPlanner,
  model: GpuModel,
  tuning: ConvTuning,
  node: Node,
  inputs: readonly VirtualTensor[],
  label: string,
): NodeContext<LayerSpec> {
  return {
    ...stepBuilder(planner, model, tuning),
    name: node.name,
    label,
    spec: node.spec,
    inputs,
    parameter(localName) {
      const p = node.parameters.get(localName);
      return p && planner.external(model.view(p), p.name);
    },
  };
}

/**
 * Records the forward pass of `graph` for `batch` samples reading `input`, its convolution and linear
 * kernels chosen by `tuning`.
 */
export function lowerForward(
  planner: StepPlanner,
  model: GpuModel,
  graph: Graph,
  batch: number,
  input: VirtualTensor,
  mode: Mode,
  tuning: ConvTuning,
): Forward {
  const values: VirtualTensor[] = [];
  const saved: VirtualTensor[][] = [];
  for (const node of graph.nodes) {
    // The graph's input node reads the step's input batch.
    const inputs = node.inputs.length === 0 ? [input] : node.inputs.map((id) => values[id]);
    const outputShape = [batch, ...node.shape];
    const kept: VirtualTensor[] = [];
    values.push(
      opDefinition(node.spec).forward({
        ...nodeContext(planner, model, tuning, node, inputs, `${node.name}: ${node.spec.kind}`),
        mode,
        outputShape,
        output: () => planner.tensor(outputShape, `${node.name} output`),
        save: (...tensors) => kept.push(...tensors),
      }),
    );
    saved.push(kept);
  }
  return { values, output: values[graph.output.id], saved };
}

/**
 * For each node, whether the gradient of its output is needed: it owns a trainable parameter, or one of
 * its inputs needs a gradient.
 */
export function gradientNeeded(graph: Graph): boolean[] {
  const needed: boolean[] = [];
  for (const node of graph.nodes) {
    needed.push(
      [...node.parameters.values()].some((p) => p.role === "parameter" && p.requiresGrad) ||
        node.inputs.some((i) => needed[i]),
    );
  }
  return needed;
}

/**
 * The gradients of a backward pass so far, per node: one term per reader of its output, summed only when an
 * op asks for the sum (an op that can add the terms, and their partial sums, as it reads them takes them as
 * they are).
 */
class GradientSums {
  readonly #planner: StepPlanner;
  readonly #model: GpuModel;
  readonly #graph: Graph;
  readonly #terms: GradientTerm[][] = [];
  /** Per node, whether its gradient is needed. */
  readonly needed: boolean[];

  constructor(planner: StepPlanner, model: GpuModel, graph: Graph, gradOutput: VirtualTensor) {
    this.#planner = planner;
    this.#model = model;
    this.#graph = graph;
    this.needed = gradientNeeded(graph);
    this.#terms[graph.output.id] = [{ tensor: gradOutput, splits: 1 }];
  }

  /** Whether a gradient reached node `id`'s output. */
  reached(id: number): boolean {
    return (this.#terms[id]?.length ?? 0) > 0;
  }

  /** The terms of node `id`'s gradient. */
  terms(id: number): readonly GradientTerm[] {
    return this.#terms[id] ?? [];
  }

  /**
   * Node `id`'s gradient: each term's partial sums added, then the terms summed pairwise in the order they
   * arrived; the sum is then kept.
   */
  of(id: number): VirtualTensor {
    const name = this.#graph.nodes[id].name;
    const gpu = this.#model.gpu;
    const sum = this.terms(id).map((term) => this.#summed(name, term)).reduce((previous, g) => {
      const output = this.#planner.tensor(g.shape, `${name} gradient`);
      this.#planner.op(
        `${name}: gradient sum`,
        { a: previous, b: g, output },
        (t) => add(gpu, numel(output.shape), t, { relu: false }, name),
      );
      return output;
    });
    this.#terms[id] = [{ tensor: sum, splits: 1 }];
    return sum;
  }

  /** `term` with its partial sums added. */
  #summed(name: string, { tensor: partial, splits }: GradientTerm): VirtualTensor {
    if (splits === 1) return partial;
    const total = this.#planner.tensor(partial.shape.slice(1), `${name} gradient`);
    this.#planner.op(
      `${name}: gradient split sum`,
      { partial, total },
      (t) => sumSplits(this.#model.gpu, numel(total.shape), splits, t, name),
    );
    return total;
  }

  /** Adds `g` (of node `id`'s shape `shape`, or partial sums of it) to node `id`'s gradient, if needed. */
  accumulate(id: number, shape: readonly number[], g: VirtualTensor): void {
    if (!this.needed[id]) return;
    const splits = g.shape.length === shape.length + 1 ? g.shape[0] : 1;
    if (g.shape.slice(g.shape.length - shape.length).join() !== shape.join()) {
      throw new Error(
        `${this.#graph.nodes[id].name}: a gradient of shape [${g.shape.join(", ")}] for an output of ` +
          `shape [${shape.join(", ")}]`,
      );
    }
    (this.#terms[id] ??= []).push({ tensor: g, splits });
  }
}

/** What the backward lowering of `node` sees. */
function backwardContext(
  planner: StepPlanner,
  model: GpuModel,
  tuning: ConvTuning,
  graph: Graph,
  forward: Forward,
  sums: GradientSums,
  node: Node,
): BackwardContext<LayerSpec> {
  const inputs = node.inputs.map((id) => forward.values[id]);
  const inputNode = (index: number) => node.inputs[index];
  return {
    ...nodeContext(planner, model, tuning, node, inputs, `${node.name}: ${node.spec.kind} backward`),
    output: forward.values[node.id],
    get gradOutput() {
      return sums.of(node.id);
    },
    gradOutputTerms: sums.terms(node.id),
    saved: forward.saved[node.id],
    gradient(localName) {
      const p = node.parameters.get(localName);
      return p?.requiresGrad ? planner.external(model.gradient(p), `${p.name} gradient`) : undefined;
    },
    gradInput(index, splits = 1) {
      if (!sums.needed[inputNode(index)]) return undefined;
      const shape = splits > 1 ? [splits, ...inputs[index].shape] : inputs[index].shape;
      return planner.tensor(shape, `${graph.nodes[inputNode(index)].name} gradient`);
    },
    accumulate: (index, gradient) => sums.accumulate(inputNode(index), inputs[index].shape, gradient),
  };
}

/**
 * Records the backward pass of `graph` from `gradOutput` (the gradient of the graph's output), its
 * convolution and linear kernels chosen by `tuning`.
 */
export function lowerBackward(
  planner: StepPlanner,
  model: GpuModel,
  graph: Graph,
  forward: Forward,
  gradOutput: VirtualTensor,
  tuning: ConvTuning,
): void {
  const sums = new GradientSums(planner, model, graph, gradOutput);
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const node = graph.nodes[id];
    if (!sums.reached(id) || !sums.needed[id]) continue;
    opDefinition(node.spec).backward(backwardContext(planner, model, tuning, graph, forward, sums, node));
  }
}

/** Throws if a parameter is used by two layers (its gradient would need summing, which the step does not do). */
export function checkNoSharedParameters(graph: Graph): void {
  const owner = new Map<Parameter, string>();
  for (const node of graph.nodes) {
    for (const p of node.parameters.values()) {
      const other = owner.get(p);
      if (other !== undefined && other !== node.name) {
        throw new Error(
          `${p.name}: used by both ${other} and ${node.name}; shared parameters cannot be trained`,
        );
      }
      owner.set(p, node.name);
    }
  }
}
