/**
 * The rewrites a traced graph goes through before lowering, in tinygrad's spirit: a chain of functions from
 * graph to equivalent graph, each turning a pattern into fewer or cheaper ops. Lowering then just lowers
 * nodes. Rewritten nodes keep their names, so errors and op labels still name the model's layers.
 *
 * @module
 */

import { Graph, type LayerSpec, type Node, type SymbolicTensor } from "../nn/graph.ts";
import type { Parameter } from "../nn/parameter.ts";
import type { BatchNorm2dSpec } from "../ops/batchnorm.ts";
import type { Mode } from "../ops/op.ts";

/** A function from a traced graph to an equivalent one. */
export type Rewrite = (graph: Graph) => Graph;

/**
 * How {@linkcode rebuild} carries one node over: with a (new) spec, and optionally another name, other
 * inputs and parameters; replaced by one of its inputs; or dropped, when no node reads it any more.
 */
type NodeEdit =
  | {
    spec: LayerSpec;
    name?: string;
    inputs?: readonly number[];
    parameters?: ReadonlyMap<string, Parameter>;
  }
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
      const inputs = (change.inputs ?? node.inputs).map((id) => values[id]);
      values[node.id] = inputs[0].graph.add(
        change.name ?? node.name,
        change.spec,
        inputs,
        change.parameters ?? node.parameters,
      );
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
      spec: { ...(norm.spec as BatchNorm2dSpec), residual: true },
      name: norm.name,
      inputs: [norm.inputs[0], residual],
      parameters: norm.parameters,
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

/**
 * Folds each BatchNorm (with what it has fused) into the convolution it reads, for inference: the
 * convolution applies BatchNorm's eval-mode affine map, the residual and the ReLU as it stores each result,
 * and the BatchNorm node goes. Only a convolution without a bias whose only reader is the BatchNorm is
 * folded. The node keeps the convolution's name and takes the BatchNorm's parameters as `norm_weight`,
 * `norm_bias`, `running_mean` and `running_var`. Eval mode only: the result has no backward.
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * import { foldBatchNorm, fuseRelu, fuseResidual } from "@denogpu/resnet/ops";
 * const graph = foldBatchNorm(fuseRelu(fuseResidual(resnet20().trace([3, 32, 32]))));
 * console.log(graph.nodes.map((n) => n.spec.kind).filter((k) => k === "batchnorm2d").length); // 0
 * ```
 */
export function foldBatchNorm(graph: Graph): Graph {
  const consumers = graph.consumers();
  const folded = new Map<number, Node>();
  const convolutions = new Set<number>();
  for (const node of graph.nodes) {
    if (node.spec.kind !== "batchnorm2d") continue;
    const conv = graph.nodes[node.inputs[0]];
    if (conv.spec.kind !== "conv2d" || conv.spec.bias || conv.spec.norm || consumers[conv.id].length !== 1) {
      continue;
    }
    folded.set(node.id, conv);
    convolutions.add(conv.id);
  }
  return rebuild(graph, (node) => {
    if (convolutions.has(node.id)) return { drop: true };
    const conv = folded.get(node.id);
    if (!conv || conv.spec.kind !== "conv2d" || node.spec.kind !== "batchnorm2d") return { spec: node.spec };
    const norm = node.spec;
    const parameters = new Map(conv.parameters);
    for (const [local, p] of node.parameters) {
      if (local !== "num_batches_tracked") {
        parameters.set(local.startsWith("running_") ? local : `norm_${local}`, p);
      }
    }
    return {
      spec: { ...conv.spec, norm: { eps: norm.eps }, residual: norm.residual, relu: norm.relu },
      name: conv.name,
      inputs: [conv.inputs[0], ...node.inputs.slice(1)],
      parameters,
    };
  });
}

/**
 * Drops each global average pool over 1x1 images (an ImageNet-stem ResNet's last stage at 32x32 input),
 * which computes its input exactly: its readers read that input instead, and the pool costs no pass
 * either way.
 *
 * @example
 * ```ts
 * import { resnet18 } from "@denogpu/resnet";
 * import { dropIdentityPools } from "@denogpu/resnet/ops";
 * const pools = (size: number) =>
 *   dropIdentityPools(resnet18().trace([3, size, size])).nodes.filter((n) => n.spec.kind === "adaptiveavgpool2d");
 * console.log(pools(32).length, pools(64).length); // 0 1: layer4 has 1x1 and 2x2 pixels
 * ```
 */
export function dropIdentityPools(graph: Graph): Graph {
  return rebuild(graph, (node) => {
    if (node.spec.kind !== "adaptiveavgpool2d") return { spec: node.spec };
    const [, h, w] = graph.nodes[node.inputs[0]].shape;
    return h === 1 && w === 1 ? { replaceBy: node.inputs[0] } : { spec: node.spec };
  });
}

/** The rewrites of each mode, in the order they run. */
const REWRITES: Record<Mode, readonly Rewrite[]> = {
  train: [dropIdentityPools, fuseResidual, fuseRelu],
  eval: [dropIdentityPools, fuseResidual, fuseRelu, foldBatchNorm],
};

/**
 * `graph` after every rewrite of `mode`: the graph that the training step (`"train"`, the default) or
 * inference (`"eval"`) lowers.
 *
 * @example
 * ```ts
 * import { rewrite } from "@denogpu/resnet/ops";
 * import { resnet18 } from "@denogpu/resnet";
 * const graph = resnet18().trace([3, 224, 224]);
 * console.log(graph.nodes.length > rewrite(graph).nodes.length); // true: the adds and ReLUs are fused
 * ```
 */
export function rewrite(graph: Graph, mode: Mode = "train"): Graph {
  return REWRITES[mode].reduce((g, step) => step(g), graph);
}
