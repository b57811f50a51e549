/**
 * The model table a PyTorch user expects: layer, type, output shape, parameters, and totals.
 *
 * @module
 */

import { opDefinition } from "../ops/registry.ts";
import type { Graph } from "./graph.ts";

/** One row of {@linkcode summary}. */
export interface SummaryRow {
  /** Module path, e.g. `"layer1.0.conv1"`. */
  name: string;
  /** PyTorch class name, e.g. `"Conv2d"`. */
  type: string;
  /** Output shape with the batch dimension first. */
  outputShape: number[];
  /** Trainable values owned by this layer. */
  parameters: number;
}

/** What {@linkcode summary} returns. */
export interface Summary {
  /** One row per layer, in execution order (the input excluded). */
  rows: SummaryRow[];
  /** Sum of all parameters (shared layers counted once). */
  totalParameters: number;
  /** Parameters that require a gradient. */
  trainableParameters: number;
  /** The table as text, as printed. */
  text: string;
}

/**
 * Builds the summary table of a traced graph for `batchSize` samples.
 *
 * @example
 * ```ts
 * import { resnet18, summary } from "@denogpu/resnet";
 * console.log(summary(resnet18().trace([3, 224, 224])).text); // ... Total params: 11,689,512
 * ```
 */
export function summary(graph: Graph, batchSize = 1): Summary {
  const rows: SummaryRow[] = [];
  const counted = new Set<unknown>();
  let total = 0, trainable = 0;
  for (const node of graph.nodes) {
    if (node.spec.kind === "input") continue;
    let count = 0;
    for (const p of node.parameters.values()) {
      if (p.role !== "parameter" || counted.has(p)) continue;
      counted.add(p);
      count += p.size;
      if (p.requiresGrad) trainable += p.size;
    }
    total += count;
    rows.push({
      name: node.name,
      type: opDefinition(node.spec).typeName,
      outputShape: [batchSize, ...node.shape],
      parameters: count,
    });
  }
  const number = (n: number) => n.toLocaleString("en-US");
  const header = ["Layer", "Type", "Output Shape", "Param #"];
  const cells = rows.map((r) => [r.name, r.type, `[${r.outputShape.join(", ")}]`, number(r.parameters)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((v, i) => i === 3 ? v.padStart(widths[i]) : v.padEnd(widths[i])).join("  ");
  const rule = "=".repeat(widths.reduce((a, b) => a + b + 2, -2));
  const text = [
    rule,
    line(header),
    rule,
    ...cells.map(line),
    rule,
    `Total params: ${number(total)}`,
    `Trainable params: ${number(trainable)}`,
    `Non-trainable params: ${number(total - trainable)}`,
    rule,
  ].join("\n");
  return { rows, totalParameters: total, trainableParameters: trainable, text };
}
