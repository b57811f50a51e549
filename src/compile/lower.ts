/**
 * Lowers a traced graph to GPU ops on a {@linkcode StepPlanner}: the forward pass in train or eval mode
 * (BatchNorm + ReLU and residual add + ReLU fused), and the backward pass in reverse graph order, which sums
 * gradients where a tensor fans out and stops below the lowest layer that still needs a gradient.
 *
 * @module
 */

import type { Graph } from "../nn/graph.ts";
import type { Parameter } from "../nn/parameter.ts";
import { batchNormBackward, batchNormEval, batchNormTrain } from "../ops/batchnorm.ts";
import { conv2dBackwardData, conv2dBackwardWeight, conv2dForward, conv2dGeometry } from "../ops/conv2d.ts";
import { add, reluBackward, reluForward } from "../ops/elementwise.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  maxPool2dGeometry,
} from "../ops/pool.ts";
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

const count = (t: VirtualTensor) => t.shape.reduce((a, b) => a * b, 1);

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

  for (const node of graph.nodes) {
    const spec = node.spec;
    const x = values[node.inputs[0]];
    const shape = [batch, ...node.shape];
    const label = `${node.name}: ${spec.kind}`;
    const fuse = consumers[node.id].length === 1 && graph.nodes[consumers[node.id][0]].spec.kind === "relu";
    const value = (name: string) => {
      const p = node.parameters.get(name);
      return p && planner.external(model.view(p), p.name);
    };
    switch (spec.kind) {
      case "input":
        values.push(input);
        continue;
      case "relu":
        if (fusedRelu.has(node.inputs[0])) {
          values.push(x);
          continue;
        }
        break;
      case "flatten":
      case "identity":
        values.push(planner.view(x, shape));
        continue;
    }
    const output = planner.tensor(shape, `${node.name} output`);
    values.push(output);
    switch (spec.kind) {
      case "relu":
        planner.op(label, { input: x, output }, (t) => reluForward(gpu, count(output), t, node.name));
        break;
      case "conv2d": {
        const geometry = conv2dGeometry(x.shape, spec);
        const tensors = { input: x, weight: value("weight")!, bias: value("bias"), output };
        planner.op(label, tensors, (t) => conv2dForward(gpu, geometry, t, node.name));
        break;
      }
      case "batchnorm2d": {
        if (fuse) fusedRelu.add(node.id);
        const s = { batch, channels: shape[1], spatial: shape[2] * shape[3] };
        const tensors = {
          input: x,
          weight: value("weight")!,
          bias: value("bias")!,
          runningMean: value("running_mean")!,
          runningVar: value("running_var")!,
          output,
        };
        if (mode === "eval") {
          planner.op(
            label,
            tensors,
            (t) => batchNormEval(gpu, s, t, { eps: spec.eps, relu: fuse }, node.name),
          );
          break;
        }
        const savedMean = planner.tensor([s.channels], `${node.name} batch mean`);
        const savedInvStd = planner.tensor([s.channels], `${node.name} batch inverse std`);
        saved.set(node.id, [savedMean, savedInvStd]);
        const options = { eps: spec.eps, momentum: spec.momentum, relu: fuse };
        planner.op(
          label,
          { ...tensors, savedMean, savedInvStd },
          (t) => batchNormTrain(gpu, s, t, options, node.name),
        );
        break;
      }
      case "maxpool2d": {
        const geometry = maxPool2dGeometry(x.shape, spec);
        const indices = planner.tensor(shape, `${node.name} arg-max indices`);
        saved.set(node.id, [indices]);
        planner.op(
          label,
          { input: x, output, indices },
          (t) => maxPool2dForward(gpu, geometry, t, node.name),
        );
        break;
      }
      case "adaptiveavgpool2d": {
        const s = { planes: x.shape[0] * x.shape[1], spatial: x.shape[2] * x.shape[3] };
        planner.op(label, { input: x, output }, (t) => globalAvgPoolForward(gpu, s, t, node.name));
        break;
      }
      case "linear": {
        const s = { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures };
        const tensors = { input: x, weight: value("weight")!, bias: value("bias"), output };
        planner.op(label, tensors, (t) => linearForward(gpu, s, t, node.name));
        break;
      }
      case "add": {
        if (fuse) fusedRelu.add(node.id);
        const tensors = { a: x, b: values[node.inputs[1]], output };
        planner.op(label, tensors, (t) => add(gpu, count(output), t, { relu: fuse }, node.name));
        break;
      }
    }
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

  const accumulate = (id: number, g: VirtualTensor) => {
    if (!needed[id]) return;
    const previous = grads[id];
    if (!previous) {
      grads[id] = g;
      return;
    }
    const name = graph.nodes[id].name;
    const output = planner.tensor(g.shape, `${name} gradient`);
    planner.op(
      `${name}: gradient sum`,
      { a: previous, b: g, output },
      (t) => add(gpu, count(output), t, { relu: false }, name),
    );
    grads[id] = output;
  };

  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const node = graph.nodes[id];
    const gradOutput = grads[id];
    if (!gradOutput || !needed[id]) continue;
    const spec = node.spec;
    const [inputId] = node.inputs;
    const input = values[inputId];
    const output = values[id];
    const label = `${node.name}: ${spec.kind} backward`;
    const gradInput = inputId !== undefined && needed[inputId]
      ? planner.tensor(input.shape, `${graph.nodes[inputId].name} gradient`)
      : undefined;
    const parameter = (name: string): Parameter | undefined => node.parameters.get(name);
    const value = (p: Parameter) => planner.external(model.view(p), p.name);
    const gradient = (name: string) => {
      const p = parameter(name);
      return p?.requiresGrad ? planner.external(model.gradient(p), `${p.name} gradient`) : undefined;
    };
    switch (spec.kind) {
      case "relu":
        if (fusedRelu.has(inputId)) {
          accumulate(inputId, gradOutput);
          continue;
        }
        planner.op(
          label,
          { output, gradOutput, gradInput: gradInput! },
          (t) => reluBackward(gpu, count(output), t, node.name),
        );
        break;
      case "flatten":
      case "identity":
        accumulate(inputId, planner.view(gradOutput, input.shape));
        continue;
      case "conv2d": {
        const geometry = conv2dGeometry(input.shape, spec);
        const weight = parameter("weight")!;
        const gradWeight = gradient("weight");
        const gradBias = gradient("bias");
        if (gradBias && !gradWeight) {
          throw new Error(`${node.name}: a frozen weight with a trainable bias is not supported`);
        }
        if (gradWeight) {
          planner.op(
            `${node.name}: conv2d backward-weight`,
            { input, gradOutput, gradWeight, gradBias },
            (t) => conv2dBackwardWeight(gpu, geometry, t, node.name),
          );
        }
        if (gradInput) {
          planner.op(
            `${node.name}: conv2d backward-data`,
            { gradOutput, weight: value(weight), gradInput },
            (t) => conv2dBackwardData(gpu, geometry, t, node.name),
          );
        }
        break;
      }
      case "batchnorm2d": {
        const s = {
          batch: output.shape[0],
          channels: output.shape[1],
          spatial: output.shape[2] * output.shape[3],
        };
        const relu = fusedRelu.has(id);
        const [savedMean, savedInvStd] = saved.get(id)!;
        const tensors = {
          input,
          // Read only for a fused ReLU's mask; otherwise the input stands in, so the output need not live
          // until backward.
          output: relu ? output : input,
          gradOutput,
          weight: value(parameter("weight")!),
          savedMean,
          savedInvStd,
          gradInput,
          gradWeight: gradient("weight"),
          gradBias: gradient("bias"),
        };
        planner.op(label, tensors, (t) => batchNormBackward(gpu, s, t, { relu }, node.name));
        break;
      }
      case "maxpool2d": {
        if (!gradInput) break;
        const geometry = maxPool2dGeometry(input.shape, spec);
        const [indices] = saved.get(id)!;
        planner.op(
          label,
          { gradOutput, indices, gradInput },
          (t) => maxPool2dBackward(gpu, geometry, t, node.name),
        );
        break;
      }
      case "adaptiveavgpool2d": {
        if (!gradInput) break;
        const s = { planes: input.shape[0] * input.shape[1], spatial: input.shape[2] * input.shape[3] };
        planner.op(label, { gradOutput, gradInput }, (t) => globalAvgPoolBackward(gpu, s, t, node.name));
        break;
      }
      case "linear": {
        const s = { batch: input.shape[0], inFeatures: spec.inFeatures, outFeatures: spec.outFeatures };
        const tensors = {
          input,
          weight: value(parameter("weight")!),
          gradOutput,
          gradInput,
          gradWeight: gradient("weight"),
          gradBias: gradient("bias"),
        };
        planner.op(label, tensors, (t) => linearBackward(gpu, s, t, node.name));
        break;
      }
      case "add": {
        let gradSum = gradOutput;
        if (fusedRelu.has(id)) {
          gradSum = planner.tensor(gradOutput.shape, `${node.name} gradient`);
          planner.op(
            `${node.name}: relu backward`,
            { output, gradOutput, gradInput: gradSum },
            (t) => reluBackward(gpu, count(output), t, node.name),
          );
        }
        accumulate(node.inputs[0], gradSum);
        accumulate(node.inputs[1], gradSum);
        continue;
      }
    }
    if (gradInput) accumulate(inputId, gradInput);
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
