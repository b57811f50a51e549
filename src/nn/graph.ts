/**
 * The typed layer graph: a model traced on a symbolic input becomes a list of nodes, each with its layer
 * kind, the module path that owns it (torchvision's names) and its inferred per-sample output shape.
 *
 * @module
 */

import type { Parameter } from "./parameter.ts";

/** The layer kinds of the graph, as a discriminated union. Shapes are per sample (no batch dimension). */
export type LayerSpec =
  | { kind: "input" }
  | {
    kind: "conv2d";
    inChannels: number;
    outChannels: number;
    kernelSize: [number, number];
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
    groups: number;
    bias: boolean;
  }
  | { kind: "batchnorm2d"; numFeatures: number; eps: number; momentum: number }
  | { kind: "relu" }
  | {
    kind: "maxpool2d";
    kernelSize: [number, number];
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
  }
  | { kind: "adaptiveavgpool2d" }
  | { kind: "flatten" }
  | { kind: "linear"; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: "add" }
  | { kind: "identity" };

/** The name of a layer kind. */
export type LayerKind = LayerSpec["kind"];

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

/** A symbolic tensor: the output of a node while a model is being traced. */
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

  /** The residual add: `this + other`, shapes must match. */
  add(other: SymbolicTensor, name = this.graph.nodes[this.node].name): SymbolicTensor {
    return this.graph.add(name, { kind: "add" }, [this, other], new Map());
  }
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

function pair(value: [number, number]): string {
  return value[0] === value[1] ? `${value[0]}` : `(${value[0]}, ${value[1]})`;
}

/** Output size of a convolution or pooling window along one axis, as PyTorch computes it. */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation: number,
): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

function inferShape(name: string, spec: LayerSpec, inputs: readonly (readonly number[])[]): number[] {
  const fail = (expected: string, got: readonly number[]): never => {
    throw new Error(`${name} (${spec.kind}): expected input of shape ${expected}, got ${fmt(got)}`);
  };
  const [x] = inputs;
  switch (spec.kind) {
    case "input":
      return [...x];
    case "conv2d":
    case "maxpool2d": {
      const channels = spec.kind === "conv2d" ? spec.inChannels : x[0];
      if (x.length !== 3 || x[0] !== channels) fail(`[${channels}, H, W]`, x);
      const out = [0, 1].map((axis) =>
        windowOutputSize(
          x[axis + 1],
          spec.kernelSize[axis],
          spec.stride[axis],
          spec.padding[axis],
          spec.dilation[axis],
        )
      );
      if (out[0] < 1 || out[1] < 1) {
        throw new Error(
          `${name} (${spec.kind}): input ${fmt(x)} is too small for kernel ${pair(spec.kernelSize)}, ` +
            `stride ${pair(spec.stride)}, padding ${pair(spec.padding)}, dilation ${pair(spec.dilation)}`,
        );
      }
      if (spec.kind === "maxpool2d") {
        if (spec.padding.some((p, axis) => p > spec.kernelSize[axis] / 2)) {
          throw new Error(
            `${name} (maxpool2d): padding ${pair(spec.padding)} must be at most half the kernel`,
          );
        }
        return [x[0], out[0], out[1]];
      }
      return [spec.outChannels, out[0], out[1]];
    }
    case "batchnorm2d":
      if (x.length !== 3 || x[0] !== spec.numFeatures) fail(`[${spec.numFeatures}, H, W]`, x);
      return [...x];
    case "relu":
    case "identity":
      return [...x];
    case "adaptiveavgpool2d":
      if (x.length !== 3) fail("[C, H, W]", x);
      return [x[0], 1, 1];
    case "flatten":
      return [x.reduce((a, b) => a * b, 1)];
    case "linear":
      if (x.length !== 1 || x[0] !== spec.inFeatures) fail(`[${spec.inFeatures}]`, x);
      return [spec.outFeatures];
    case "add": {
      const [a, b] = inputs;
      if (fmt(a) !== fmt(b)) {
        throw new Error(
          `${name} (add): the residual branch has shape ${fmt(a)} but the shortcut has ${fmt(b)}`,
        );
      }
      return [...a];
    }
  }
}

/** A traced model: nodes in execution order, the last one being the output. */
export class Graph {
  /** All nodes, in the order they were traced (a topological order). */
  readonly nodes: Node[] = [];

  /** Starts a graph with an input of per-sample `shape` (e.g. `[3, 32, 32]`). */
  static input(shape: readonly number[]): SymbolicTensor {
    const graph = new Graph();
    if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `input: expected a shape [channels, height, width] of positive integers, got ${fmt(shape)}`,
      );
    }
    return graph.add("input", { kind: "input" }, [], new Map(), shape);
  }

  /** Appends a node reading `inputs`; infers and checks its output shape. */
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
    const shape = inferShape(name, spec, inputShape ? [inputShape] : inputs.map((t) => t.shape));
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
