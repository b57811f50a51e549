/**
 * A whole model on the CPU in float64, composed from the per-layer references: forward in eval or train
 * mode, cross-entropy, and backward with every parameter's gradient, for comparing a compiled GPU step.
 *
 * @module
 */

import type { Graph } from "../../src/nn/graph.ts";
import type { Parameter } from "../../src/nn/parameter.ts";
import { conv2dGeometry } from "../../src/ops/conv2d.ts";
import { maxPool2dGeometry } from "../../src/ops/pool.ts";
import { batchNormBackwardReference, batchNormEvalReference, batchNormTrainReference } from "./batchnorm.ts";
import {
  conv2dBackwardDataReference,
  conv2dBackwardWeightReference,
  conv2dForwardReference,
} from "./conv2d.ts";
import { reluBackwardReference, reluReference } from "./elementwise.ts";
import { linearBackwardReference, linearForwardReference } from "./linear.ts";
import { crossEntropyReference } from "./loss.ts";
import {
  globalAvgPoolBackwardReference,
  globalAvgPoolReference,
  maxPool2dBackwardReference,
  maxPool2dReference,
} from "./pool.ts";

/** What {@linkcode modelReference} returns. */
export interface ModelReference {
  /** `[batch, classes]`. */
  logits: Float64Array;
  /** Mean cross-entropy (train mode with labels). */
  loss?: number;
  /** Gradient of every trainable parameter (train mode with labels). */
  gradients: Map<Parameter, Float64Array>;
  /** Running mean and variance after the step, per BatchNorm running-statistics parameter (train mode). */
  runningStats: Map<Parameter, Float64Array>;
}

/**
 * Runs `graph` on `input` (`[batch, ...inputShape]`) with the parameters' host values. With `labels` in train
 * mode it also computes the loss and every trainable parameter's gradient.
 */
export function modelReference(
  graph: Graph,
  input: ArrayLike<number>,
  batch: number,
  mode: "train" | "eval",
  labels?: ArrayLike<number>,
  labelSmoothing = 0,
): ModelReference {
  const values: Float64Array[] = [];
  const shapes = graph.nodes.map((n) => [batch, ...n.shape]);
  const runningStats = new Map<Parameter, Float64Array>();
  const p = (id: number, name: string) => graph.nodes[id].parameters.get(name)!;
  for (const node of graph.nodes) {
    const x = values[node.inputs[0]];
    const inShape = shapes[node.inputs[0]];
    const spec = node.spec;
    switch (spec.kind) {
      case "input":
        values.push(Float64Array.from(input));
        break;
      case "conv2d":
        values.push(
          conv2dForwardReference(
            x,
            p(node.id, "weight").data,
            node.parameters.get("bias")?.data,
            conv2dGeometry(inShape, spec),
          ),
        );
        break;
      case "batchnorm2d": {
        const s = { batch, channels: inShape[1], spatial: inShape[2] * inShape[3] };
        const parameters = {
          weight: p(node.id, "weight").data,
          bias: p(node.id, "bias").data,
          runningMean: p(node.id, "running_mean").data,
          runningVar: p(node.id, "running_var").data,
        };
        if (mode === "eval") {
          values.push(batchNormEvalReference(x, s, parameters, { eps: spec.eps, relu: false }));
        } else {
          const r = batchNormTrainReference(x, s, parameters, {
            eps: spec.eps,
            momentum: spec.momentum,
            relu: false,
          });
          runningStats.set(p(node.id, "running_mean"), r.runningMean);
          runningStats.set(p(node.id, "running_var"), r.runningVar);
          values.push(r.output);
        }
        break;
      }
      case "relu":
        values.push(reluReference(x));
        break;
      case "maxpool2d":
        values.push(maxPool2dReference(x, maxPool2dGeometry(inShape, spec)).output);
        break;
      case "adaptiveavgpool2d":
        values.push(globalAvgPoolReference(x, inShape[0] * inShape[1], inShape[2] * inShape[3]));
        break;
      case "flatten":
      case "identity":
        values.push(x);
        break;
      case "linear":
        values.push(
          linearForwardReference(x, p(node.id, "weight").data, node.parameters.get("bias")?.data, {
            batch,
            inFeatures: spec.inFeatures,
            outFeatures: spec.outFeatures,
          }),
        );
        break;
      case "add": {
        const b = values[node.inputs[1]];
        values.push(Float64Array.from(x, (v, i) => v + b[i]));
        break;
      }
    }
  }
  const logits = values[graph.output.id];
  const gradients = new Map<Parameter, Float64Array>();
  if (mode === "eval" || !labels) return { logits, gradients, runningStats };

  const classes = graph.output.shape[0];
  const loss = crossEntropyReference(logits, labels, batch, classes, labelSmoothing);
  const grads: Array<Float64Array | undefined> = [];
  grads[graph.output.id] = loss.gradLogits;
  const accumulate = (id: number, g: Float64Array) => {
    const previous = grads[id];
    grads[id] = previous ? Float64Array.from(previous, (v, i) => v + g[i]) : g;
  };
  const setGrad = (id: number, name: string, g: Float64Array) => {
    const parameter = graph.nodes[id].parameters.get(name);
    if (parameter?.requiresGrad) gradients.set(parameter, g);
  };
  for (let id = graph.nodes.length - 1; id > 0; id--) {
    const node = graph.nodes[id];
    const g = grads[id];
    if (!g) continue;
    const x = values[node.inputs[0]];
    const inShape = shapes[node.inputs[0]];
    const spec = node.spec;
    switch (spec.kind) {
      case "conv2d": {
        const geometry = conv2dGeometry(inShape, spec);
        const w = conv2dBackwardWeightReference(x, g, geometry);
        setGrad(id, "weight", w.gradWeight);
        setGrad(id, "bias", w.gradBias);
        accumulate(node.inputs[0], conv2dBackwardDataReference(g, p(id, "weight").data, geometry));
        break;
      }
      case "batchnorm2d": {
        const s = { batch, channels: inShape[1], spatial: inShape[2] * inShape[3] };
        const r = batchNormBackwardReference(x, s, p(id, "weight").data, p(id, "bias").data, g, {
          eps: spec.eps,
          relu: false,
        });
        setGrad(id, "weight", r.gradWeight);
        setGrad(id, "bias", r.gradBias);
        accumulate(node.inputs[0], r.gradInput);
        break;
      }
      case "relu":
        accumulate(node.inputs[0], reluBackwardReference(values[id], g));
        break;
      case "maxpool2d": {
        const geometry = maxPool2dGeometry(inShape, spec);
        accumulate(
          node.inputs[0],
          maxPool2dBackwardReference(g, maxPool2dReference(x, geometry).indices, geometry),
        );
        break;
      }
      case "adaptiveavgpool2d":
        accumulate(node.inputs[0], globalAvgPoolBackwardReference(g, inShape[2] * inShape[3]));
        break;
      case "flatten":
      case "identity":
        accumulate(node.inputs[0], g);
        break;
      case "linear": {
        const r = linearBackwardReference(x, p(id, "weight").data, g, {
          batch,
          inFeatures: spec.inFeatures,
          outFeatures: spec.outFeatures,
        });
        setGrad(id, "weight", r.gradWeight);
        setGrad(id, "bias", r.gradBias);
        accumulate(node.inputs[0], r.gradInput);
        break;
      }
      case "add":
        accumulate(node.inputs[0], g);
        accumulate(node.inputs[1], g);
        break;
    }
  }
  return { logits, loss: loss.loss, gradients, runningStats };
}
