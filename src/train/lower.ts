/**
 * Lowers a traced graph to GPU ops on a {@linkcode StepPlanner}: the forward pass in train or eval mode
 * (BatchNorm + ReLU and residual add + ReLU fused), and the backward pass in reverse graph order, which sums
 * gradients where a tensor fans out and stops below the lowest layer that still needs a gradient.
 *
 * @module
 */

import type { Graph, Node } from "../graph/graph.ts";
import type { Parameter } from "../graph/module.ts";
import { batchNormBackward, batchNormEval, batchNormTrain } from "../layers/batchnorm.ts";
import { conv2dBackwardData, conv2dBackwardWeight, conv2dForward, conv2dGeometry } from "../layers/conv2d.ts";
import { add, reluBackward, reluForward } from "../layers/elementwise.ts";
import { linearBackward, linearForward } from "../layers/linear.ts";
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  maxPool2dGeometry,
} from "../layers/pool.ts";
import type { GpuModel } from "./gpu_model.ts";
import type { StepPlanner, VirtualTensor } from "./memory.ts";

/** Whether BatchNorm uses batch statistics (and updates running ones) or running statistics. */
export type Mode = "train" | "eval";

/** What {@linkcode lowerForward} returns. */
export interface Forward {
  /** Each node's output. */
  values: VirtualTensor[];
  /** Nodes whose ReLU consumer was fused into them. */
  fusedRelu: Set<number>;
  /** Saved per-node tensors the backward pass needs (BatchNorm statistics, max-pool indices). */
  saved: Map<number, VirtualTensor[]>;
}

const param = (node: Node, name: string): Parameter | undefined => node.parameters.get(name);

/** Records the forward pass of `graph` for `batch` samples reading `input`. */
export function lowerForward(
  planner: StepPlanner,
  model: GpuModel,
  graph: Graph,
  batch: number,
  input: VirtualTensor,
  mode: Mode,
): Forward {
  const gpu = model.gpu;
  const consumers = graph.consumers();
  const values: VirtualTensor[] = [];
  const fusedRelu = new Set<number>();
  const saved = new Map<number, VirtualTensor[]>();
  const weights = (node: Node) =>
    new Map(
      [...node.parameters].filter(([, p]) => !p.integer).map((
        [k, p],
      ) => [k, planner.external(model.view(p), `${node.name}.${k}`)]),
    );

  for (const node of graph.nodes) {
    const spec = node.spec;
    const x = values[node.inputs[0]];
    const shape = [batch, ...node.shape];
    const label = (op: string) => `${node.name}: ${op}`;
    const fuse = consumers[node.id].length === 1 && graph.nodes[consumers[node.id][0]].spec.kind === "relu";
    switch (spec.kind) {
      case "input":
        values.push(input);
        continue;
      case "relu": {
        if (fusedRelu.has(node.inputs[0])) {
          values.push(x);
          continue;
        }
        const y = planner.tensor(shape, `${node.name} output`);
        planner.op(
          label("relu"),
          [x, y],
          (r) => reluForward(gpu, y.shape.reduce((a, b) => a * b), { input: r(x), output: r(y) }, node.name),
        );
        values.push(y);
        continue;
      }
      case "flatten":
      case "identity":
        values.push(planner.view(x, shape));
        continue;
    }
    const y = planner.tensor(shape, `${node.name} output`);
    const w = weights(node);
    const need = (name: string) => w.get(name)!;
    switch (spec.kind) {
      case "conv2d": {
        const geometry = conv2dGeometry(x.shape, spec);
        const bias = w.get("bias");
        planner.op(
          label("conv2d forward"),
          [x, y, need("weight"), ...(bias ? [bias] : [])],
          (r) =>
            conv2dForward(gpu, geometry, {
              input: r(x),
              weight: r(need("weight")),
              bias: bias && r(bias),
              output: r(y),
            }, node.name),
        );
        break;
      }
      case "batchnorm2d": {
        if (fuse) fusedRelu.add(node.id);
        const s = { batch, channels: shape[1], spatial: shape[2] * shape[3] };
        const [weight, bias, mean, variance] = ["weight", "bias", "running_mean", "running_var"].map(need);
        if (mode === "eval") {
          planner.op(
            label("batchnorm eval"),
            [x, y, weight, bias, mean, variance],
            (r) =>
              batchNormEval(
                gpu,
                s,
                {
                  input: r(x),
                  weight: r(weight),
                  bias: r(bias),
                  runningMean: r(mean),
                  runningVar: r(variance),
                  output: r(y),
                },
                { eps: spec.eps, relu: fuse },
                node.name,
              ),
          );
        } else {
          const savedMean = planner.tensor([s.channels], `${node.name} batch mean`);
          const savedInvStd = planner.tensor([s.channels], `${node.name} batch inverse std`);
          saved.set(node.id, [savedMean, savedInvStd]);
          planner.op(
            label("batchnorm train"),
            [x, y, weight, bias, mean, variance, savedMean, savedInvStd],
            (r) =>
              batchNormTrain(
                gpu,
                s,
                {
                  input: r(x),
                  weight: r(weight),
                  bias: r(bias),
                  runningMean: r(mean),
                  runningVar: r(variance),
                  output: r(y),
                  savedMean: r(savedMean),
                  savedInvStd: r(savedInvStd),
                },
                { eps: spec.eps, momentum: spec.momentum, relu: fuse },
                node.name,
              ),
          );
        }
        break;
      }
      case "maxpool2d": {
        const geometry = maxPool2dGeometry(x.shape, spec);
        const indices = planner.tensor(shape, `${node.name} arg-max indices`);
        saved.set(node.id, [indices]);
        planner.op(
          label("maxpool2d forward"),
          [x, y, indices],
          (r) =>
            maxPool2dForward(
              gpu,
              geometry,
              { input: r(x), output: r(y), indices: r(indices) },
              node.name,
            ),
        );
        break;
      }
      case "adaptiveavgpool2d": {
        const s = { planes: x.shape[0] * x.shape[1], spatial: x.shape[2] * x.shape[3] };
        planner.op(
          label("avgpool forward"),
          [x, y],
          (r) => globalAvgPoolForward(gpu, s, { input: r(x), output: r(y) }, node.name),
        );
        break;
      }
      case "linear": {
        const s = { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures };
        const bias = w.get("bias");
        planner.op(
          label("linear forward"),
          [x, y, need("weight"), ...(bias ? [bias] : [])],
          (r) =>
            linearForward(gpu, s, {
              input: r(x),
              weight: r(need("weight")),
              bias: bias && r(bias),
              output: r(y),
            }, node.name),
        );
        break;
      }
      case "add": {
        if (fuse) fusedRelu.add(node.id);
        const b = values[node.inputs[1]];
        const count = y.shape.reduce((p, q) => p * q, 1);
        planner.op(
          label("residual add"),
          [x, b, y],
          (r) => add(gpu, count, { a: r(x), b: r(b), output: r(y) }, { relu: fuse }, node.name),
        );
        break;
      }
    }
    values.push(y);
  }
  return { values, fusedRelu, saved };
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

/** Records the backward pass from `gradOutput` (the gradient of the graph's output). */
export function lowerBackward(
  planner: StepPlanner,
  model: GpuModel,
  graph: Graph,
  forward: Forward,
  gradOutput: VirtualTensor,
): void {
  const gpu = model.gpu;
  const needed = gradientNeeded(graph);
  const grads: Array<VirtualTensor | undefined> = [];
  grads[graph.output.id] = gradOutput;
  const { values, fusedRelu, saved } = forward;

  const accumulate = (node: number, g: VirtualTensor) => {
    if (!needed[node]) return;
    const previous = grads[node];
    if (!previous) {
      grads[node] = g;
      return;
    }
    const sum = planner.tensor(g.shape, `${graph.nodes[node].name} gradient`);
    const count = g.shape.reduce((a, b) => a * b, 1);
    planner.op(
      `${graph.nodes[node].name}: gradient sum`,
      [previous, g, sum],
      (r) =>
        add(
          gpu,
          count,
          { a: r(previous), b: r(g), output: r(sum) },
          { relu: false },
          graph.nodes[node].name,
        ),
    );
    grads[node] = sum;
  };
  const trainable = (p: Parameter | undefined): p is Parameter => !!p && p.requiresGrad;
  const gradOf = (p: Parameter, node: Node) =>
    planner.external(model.gradient(p), `${node.name} ${p.name} gradient`);
  const valueOf = (p: Parameter, node: Node) => planner.external(model.view(p), `${node.name}.${p.name}`);

  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const node = graph.nodes[id];
    const g = grads[id];
    if (!g || !needed[id]) continue;
    const spec = node.spec;
    const [inputId] = node.inputs;
    const x = values[inputId];
    const wantsInput = inputId !== undefined && needed[inputId];
    const label = (op: string) => `${node.name}: ${op}`;
    const newGrad = () => planner.tensor(x.shape, `${graph.nodes[inputId].name} gradient`);
    switch (spec.kind) {
      case "input":
        break;
      case "relu": {
        if (fusedRelu.has(inputId)) {
          accumulate(inputId, g);
          break;
        }
        const gx = newGrad();
        const y = values[id];
        planner.op(
          label("relu backward"),
          [y, g, gx],
          (r) =>
            reluBackward(gpu, gx.shape.reduce((a, b) => a * b), {
              output: r(y),
              gradOutput: r(g),
              gradInput: r(gx),
            }, node.name),
        );
        accumulate(inputId, gx);
        break;
      }
      case "flatten":
      case "identity":
        accumulate(inputId, planner.view(g, x.shape));
        break;
      case "conv2d": {
        const geometry = conv2dGeometry(x.shape, spec);
        const weight = param(node, "weight")!;
        const bias = param(node, "bias");
        const w = valueOf(weight, node);
        if (trainable(weight) || trainable(bias)) {
          if (!trainable(weight)) {
            throw new Error(`${node.name}: a frozen weight with a trainable bias is not supported`);
          }
          const gw = gradOf(weight, node);
          const gb = trainable(bias) ? gradOf(bias, node) : undefined;
          planner.op(
            label("conv2d backward-weight"),
            [x, g, gw, ...(gb ? [gb] : [])],
            (r) =>
              conv2dBackwardWeight(gpu, geometry, {
                input: r(x),
                gradOutput: r(g),
                gradWeight: r(gw),
                gradBias: gb && r(gb),
              }, node.name),
          );
        }
        if (wantsInput) {
          const gx = newGrad();
          planner.op(
            label("conv2d backward-data"),
            [g, w, gx],
            (r) =>
              conv2dBackwardData(
                gpu,
                geometry,
                { gradOutput: r(g), weight: r(w), gradInput: r(gx) },
                node.name,
              ),
          );
          accumulate(inputId, gx);
        }
        break;
      }
      case "batchnorm2d": {
        const shape = values[id].shape;
        const s = { batch: shape[0], channels: shape[1], spatial: shape[2] * shape[3] };
        const weight = param(node, "weight")!;
        const bias = param(node, "bias")!;
        const [savedMean, savedInvStd] = saved.get(id)!;
        const gx = wantsInput ? newGrad() : undefined;
        const gw = trainable(weight) ? gradOf(weight, node) : undefined;
        const gb = trainable(bias) ? gradOf(bias, node) : undefined;
        const w = valueOf(weight, node);
        // The output is read only for a fused ReLU's mask; otherwise the input stands in for it, so the
        // output need not live until backward.
        const y = fusedRelu.has(id) ? values[id] : x;
        const touched = [x, y, g, w, savedMean, savedInvStd, ...[gx, gw, gb].filter((t) => t !== undefined)];
        planner.op(label("batchnorm backward"), touched, (r) =>
          batchNormBackward(
            gpu,
            s,
            {
              input: r(x),
              output: r(y),
              gradOutput: r(g),
              weight: r(w),
              savedMean: r(savedMean),
              savedInvStd: r(savedInvStd),
              gradInput: gx && r(gx),
              gradWeight: gw && r(gw),
              gradBias: gb && r(gb),
            },
            { relu: fusedRelu.has(id) },
            node.name,
          ));
        if (gx) accumulate(inputId, gx);
        break;
      }
      case "maxpool2d": {
        if (!wantsInput) break;
        const geometry = maxPool2dGeometry(x.shape, spec);
        const [indices] = saved.get(id)!;
        const gx = newGrad();
        planner.op(
          label("maxpool2d backward"),
          [g, indices, gx],
          (r) =>
            maxPool2dBackward(
              gpu,
              geometry,
              { gradOutput: r(g), indices: r(indices), gradInput: r(gx) },
              node.name,
            ),
        );
        accumulate(inputId, gx);
        break;
      }
      case "adaptiveavgpool2d": {
        if (!wantsInput) break;
        const s = { planes: x.shape[0] * x.shape[1], spatial: x.shape[2] * x.shape[3] };
        const gx = newGrad();
        planner.op(
          label("avgpool backward"),
          [g, gx],
          (r) => globalAvgPoolBackward(gpu, s, { gradOutput: r(g), gradInput: r(gx) }, node.name),
        );
        accumulate(inputId, gx);
        break;
      }
      case "linear": {
        const s = { batch: x.shape[0], inFeatures: spec.inFeatures, outFeatures: spec.outFeatures };
        const weight = param(node, "weight")!;
        const bias = param(node, "bias");
        const w = valueOf(weight, node);
        const gx = wantsInput ? newGrad() : undefined;
        const gw = trainable(weight) ? gradOf(weight, node) : undefined;
        const gb = trainable(bias) ? gradOf(bias, node) : undefined;
        const touched = [x, w, g, ...[gx, gw, gb].filter((t) => t !== undefined)];
        planner.op(
          label("linear backward"),
          touched,
          (r) =>
            linearBackward(gpu, s, {
              input: r(x),
              weight: r(w),
              gradOutput: r(g),
              gradInput: gx && r(gx),
              gradWeight: gw && r(gw),
              gradBias: gb && r(gb),
            }, node.name),
        );
        if (gx) accumulate(inputId, gx);
        break;
      }
      case "add": {
        let gm = g;
        if (fusedRelu.has(id)) {
          gm = planner.tensor(g.shape, `${node.name} gradient`);
          const y = values[id];
          const masked = gm;
          planner.op(
            label("relu backward"),
            [y, g, masked],
            (r) =>
              reluBackward(gpu, masked.shape.reduce((a, b) => a * b), {
                output: r(y),
                gradOutput: r(g),
                gradInput: r(masked),
              }, node.name),
          );
        }
        accumulate(node.inputs[0], gm);
        accumulate(node.inputs[1], gm);
        break;
      }
    }
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
