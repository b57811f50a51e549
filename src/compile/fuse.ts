/**
 * The rewrites a traced graph goes through before lowering, in tinygrad's spirit: a chain of functions from
 * graph to equivalent graph, each turning a pattern into fewer or cheaper ops. Lowering then just lowers
 * nodes. Rewritten nodes keep their names, so errors and op labels still name the model's layers.
 *
 * @module
 */

import { Graph, type LayerSpec, type Node, type SymbolicTensor } from "../nn/graph.ts";

/** A function from a traced graph to an equivalent one. */
export type Rewrite = (graph: Graph) => Graph;

/**
 * How {@linkcode rebuild} carries one node over: with a (new) spec, optionally taking another node's name,
 * parameters and inputs; replaced by one of its inputs; or dropped, when no node reads it any more.
 */
type NodeEdit =
  | { spec: LayerSpec; from?: Node; inputs?: readonly number[] }
  | { replaceBy: number }
  | { drop: true };

/**
 * A new graph with each node of `graph` edited as `edit` says; a node replaced by an input is dropped and
 * its readers read that input. Shapes are inferred again, so a rewrite that changed one would fail here.
 */
function rebuild(graph: Graph, edit: (node: Node) => NodeEdit): Graph {
  const values: SymbolicTensor[] = [];
  for (const node of graph.nodes) {
    const change = edit(node);
    if ("drop" in change) continue;
    if ("replaceBy" in change) {
      values[node.id] = values[change.replaceBy];
    } else if (node.inputs.length === 0) {
      values[node.id] = Graph.input(node.shape);
    } else {
      const source = change.from ?? node;
      const inputs = (change.inputs ?? node.inputs).map((id) => values[id]);
      values[node.id] = inputs[0].graph.add(source.name, change.spec, inputs, source.parameters);
    }
  }
  return values[graph.output.id].graph;
}

/**
 * Folds each residual add into a BatchNorm it reads, when the add is that BatchNorm's only reader: the
 * BatchNorm takes the add's other input as a residual (`residual: true`) and adds it in the same pass, in
 * the add's place in the graph (after both inputs exist); the add goes. The add's first input is taken when
 * both qualify, which in a ResNet block is the main path's last BatchNorm (`bn2`, or `bn3` in a bottleneck),
 * not the shortcut's.
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * import { fuseResidual } from "@denogpu/resnet/ops";
 * const graph = resnet20().trace([3, 32, 32]);
 * console.log(graph.nodes.length, fuseResidual(graph).nodes.length); // 74 65: its 9 adds fused
 * ```
 */
export function fuseResidual(graph: Graph): Graph {
  const consumers = graph.consumers();
  const fusable = (id: number) => {
    const spec = graph.nodes[id].spec;
    return spec.kind === "batchnorm2d" && !spec.residual && !spec.relu && consumers[id].length === 1;
  };
  const fusedAdds = new Map<number, { norm: Node; residual: number }>();
  const fusedNorms = new Set<number>();
  for (const node of graph.nodes) {
    if (node.spec.kind !== "add" || node.spec.relu) continue;
    const [a, b] = node.inputs;
    const normId = fusable(a) ? a : fusable(b) ? b : undefined;
    if (normId === undefined || a === b) continue;
    fusedAdds.set(node.id, { norm: graph.nodes[normId], residual: normId === a ? b : a });
    fusedNorms.add(normId);
  }
  return rebuild(graph, (node) => {
    if (fusedNorms.has(node.id)) return { drop: true };
    const fused = fusedAdds.get(node.id);
    if (!fused) return { spec: node.spec };
    const { norm, residual } = fused;
    return {
      spec: { ...(norm.spec as Extract<LayerSpec, { kind: "batchnorm2d" }>), residual: true },
      from: norm,
      inputs: [norm.inputs[0], residual],
    };
  });
}

/**
 * Folds each ReLU into the BatchNorm or residual add it reads, when it is that op's only reader: the
 * producer's spec then says `relu: true` and applies it in the same pass, and the ReLU node goes. A ReLU
 * that is the graph's output stays unless it directly follows its producer, which keeps the output last.
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * import { fuseRelu } from "@denogpu/resnet/ops";
 * const graph = resnet20().trace([3, 32, 32]);
 * console.log(graph.nodes.length, fuseRelu(graph).nodes.length); // 74 55: its 19 ReLUs fused
 * ```
 */
export function fuseRelu(graph: Graph): Graph {
  const consumers = graph.consumers();
  const fusedSpecs = new Map<number, LayerSpec>();
  const fusedRelus = new Set<number>();
  for (const node of graph.nodes) {
    if (node.spec.kind !== "relu") continue;
    const producer = graph.nodes[node.inputs[0]];
    const spec = producer.spec;
    if (spec.kind !== "batchnorm2d" && spec.kind !== "add") continue;
    const keepsOutputLast = node !== graph.output || producer.id === node.id - 1;
    if (!spec.relu && consumers[producer.id].length === 1 && keepsOutputLast) {
      fusedSpecs.set(producer.id, { ...spec, relu: true });
      fusedRelus.add(node.id);
    }
  }
  return rebuild(
    graph,
    (node) =>
      fusedRelus.has(node.id)
        ? { replaceBy: node.inputs[0] }
        : { spec: fusedSpecs.get(node.id) ?? node.spec },
  );
}

/** The rewrites, in the order they run. */
const REWRITES: readonly Rewrite[] = [fuseResidual, fuseRelu];

/**
 * `graph` after every rewrite: the graph that the training step and inference lower.
 *
 * @example
 * ```ts
 * import { rewrite } from "@denogpu/resnet/ops";
 * import { resnet18 } from "@denogpu/resnet";
 * const graph = resnet18().trace([3, 224, 224]);
 * console.log(graph.nodes.length > rewrite(graph).nodes.length); // true: the adds and ReLUs are fused
 * ```
 */
export function rewrite(graph: Graph): Graph {
  return REWRITES.reduce((g, step) => step(g), graph);
}
