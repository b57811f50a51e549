/**
 * The typed layer graph: a model traced on a symbolic input becomes a list of nodes, each with its layer
 * kind, the module path that owns it (torchvision's names) and its inferred per-sample output shape, which
 * each kind's definition in the op registry ({@link ../ops/registry.ts}) infers.
 *
 * @module
 */

import { formatShape } from "../ops/op.ts";
import { type LayerSpec, opDefinition } from "../ops/registry.ts";
import type { Parameter } from "./parameter.ts";

export type { LayerKind, LayerSpec } from "../ops/registry.ts";

/** One node of a traced graph. */
export interface Node {
  /** Position in the graph, also its id. */
  readonly id: number;
  /** The owning module's path, e.g. `"layer1.0.bn1"`; `"input"` for the input. */
  readonly name: string;
  /** What the node computes. */
  readonly spec: LayerSpec;
  /** Ids of the nodes it reads, in order. */
  readonly inputs: readonly number[];
  /** Inferred output shape, per sample (e.g. `[64, 56, 56]`). */
  readonly shape: readonly number[];
  /** Parameters and buffers by local name (`weight`, `bias`, `running_mean`, ...). */
  readonly parameters: ReadonlyMap<string, Parameter>;
}

/**
 * A symbolic tensor: the output of a node while a model is being traced.
 *
 * @example
 * ```ts
 * import { Graph } from "@denogpu/resnet";
 * const x = Graph.input([3, 32, 32]);
 * const sum = x.add(x); // a residual add node
 * console.log(sum.shape, sum.graph.nodes.map((n) => n.spec.kind)); // [3, 32, 32] ["input", "add"]
 * ```
 */
export class SymbolicTensor {
  /** The graph it belongs to. */
  readonly graph: Graph;
  /** The node that produces it. */
  readonly node: number;
  /** Its per-sample shape. */
  readonly shape: readonly number[];

  /** Made by {@linkcode Graph.add}. */
  constructor(graph: Graph, node: number, shape: readonly number[]) {
    this.graph = graph;
    this.node = node;
    this.shape = shape;
  }

  /**
   * The residual add: `this + other`, shapes must match.
   *
   * @throws {Error} When the shapes differ or `other` belongs to another graph.
   */
  add(other: SymbolicTensor, name = this.graph.nodes[this.node].name): SymbolicTensor {
    return this.graph.add(name, { kind: "add" }, [this, other], new Map());
  }
}

/**
 * A traced model: nodes in execution order, the last one being the output.
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * const graph = resnet20().trace([3, 32, 32]);
 * console.log(graph.nodes[0].name, graph.output.name, graph.output.shape); // "input" "fc" [10]
 * ```
 */
export class Graph {
  /** All nodes, in the order they were traced (a topological order). */
  readonly nodes: Node[] = [];

  /**
   * Starts a graph with an input of per-sample `shape` (e.g. `[3, 32, 32]`).
   *
   * @throws {Error} When `shape` is not three positive integers.
   */
  static input(shape: readonly number[]): SymbolicTensor {
    const graph = new Graph();
    if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `input: expected a shape [channels, height, width] of positive integers, got ${formatShape(shape)}`,
      );
    }
    return graph.add("input", { kind: "input" }, [], new Map(), shape);
  }

  /**
   * Appends a node reading `inputs`; infers and checks its output shape.
   *
   * @throws {Error} Naming the node when an input belongs to another graph or the inputs' shapes do not fit
   * `spec`.
   */
  add(
    name: string,
    spec: LayerSpec,
    inputs: SymbolicTensor[],
    parameters: ReadonlyMap<string, Parameter>,
    inputShape?: readonly number[],
  ): SymbolicTensor {
    for (const input of inputs) {
      if (input.graph !== this) throw new Error(`${name}: its input belongs to another graph`);
    }
    const shape = opDefinition(spec).inferShape(
      name,
      spec,
      inputShape ? [inputShape] : inputs.map((t) => t.shape),
    );
    const node: Node = {
      id: this.nodes.length,
      name,
      spec,
      inputs: inputs.map((t) => t.node),
      shape,
      parameters,
    };
    this.nodes.push(node);
    return new SymbolicTensor(this, node.id, shape);
  }

  /** The output node (the last one traced). */
  get output(): Node {
    return this.nodes[this.nodes.length - 1];
  }

  /** For each node, the ids of the nodes that read it. */
  consumers(): number[][] {
    const users: number[][] = this.nodes.map(() => []);
    for (const node of this.nodes) for (const input of node.inputs) users[input].push(node.id);
    return users;
  }
}
