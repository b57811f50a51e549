/**
 * The one table of layer kinds. Tracing infers shapes through it, the compiler lowers through it, and the
 * summary names rows from it; the graph's {@linkcode LayerSpec} union is derived from it.
 *
 * A layer kind is added as a file in src/ops exporting its spec type and its {@linkcode OpDefinition},
 * one line in {@linkcode LayerSpecs} and one in {@linkcode OPS}.
 *
 * @module
 */

import { batchNorm2dOp, type BatchNorm2dSpec } from "./batchnorm.ts";
import { conv2dOp, type Conv2dSpec } from "./conv2d.ts";
import { addOp, type AddSpec, reluOp, type ReluSpec } from "./elementwise.ts";
import { linearOp, type LinearSpec } from "./linear.ts";
import type { OpDefinition } from "./op.ts";
import { adaptiveAvgPool2dOp, type AdaptiveAvgPool2dSpec, maxPool2dOp, type MaxPool2dSpec } from "./pool.ts";
import {
  flattenOp,
  type FlattenSpec,
  identityOp,
  type IdentitySpec,
  inputOp,
  type InputSpec,
} from "./view.ts";

/**
 * Each layer kind's spec, by kind. With {@linkcode OPS} it is the one table of kinds: a new kind is its
 * definition's file, one line here and one line there.
 */
export interface LayerSpecs {
  /** The graph's input. */
  input: InputSpec;
  /** `nn.Conv2d`. */
  conv2d: Conv2dSpec;
  /** `nn.BatchNorm2d`, with an optional fused ReLU. */
  batchnorm2d: BatchNorm2dSpec;
  /** `nn.ReLU`. */
  relu: ReluSpec;
  /** `nn.MaxPool2d`. */
  maxpool2d: MaxPool2dSpec;
  /** `nn.AdaptiveAvgPool2d(1)`. */
  adaptiveavgpool2d: AdaptiveAvgPool2dSpec;
  /** `nn.Flatten`. */
  flatten: FlattenSpec;
  /** `nn.Linear`. */
  linear: LinearSpec;
  /** The residual add, with an optional fused ReLU. */
  add: AddSpec;
  /** `nn.Identity`. */
  identity: IdentitySpec;
}

/** The name of a layer kind. */
export type LayerKind = keyof LayerSpecs;

/** What a graph node computes: the spec of one of the registered layer kinds. Shapes are per sample. */
export type LayerSpec = LayerSpecs[LayerKind];

/** Every layer kind's definition, by kind. */
export const OPS: { readonly [K in LayerKind]: OpDefinition<LayerSpecs[K]> } = Object.freeze({
  input: inputOp,
  conv2d: conv2dOp,
  batchnorm2d: batchNorm2dOp,
  relu: reluOp,
  maxpool2d: maxPool2dOp,
  adaptiveavgpool2d: adaptiveAvgPool2dOp,
  flatten: flattenOp,
  linear: linearOp,
  add: addOp,
  identity: identityOp,
});

/**
 * The definition of `spec`'s kind.
 *
 * @example
 * ```ts
 * import { opDefinition } from "@denogpu/resnet/ops";
 * console.log(opDefinition({ kind: "relu" }).typeName); // ReLU
 * ```
 */
export function opDefinition<S extends LayerSpec>(spec: S): OpDefinition<S> {
  const definition: OpDefinition<LayerSpec> | undefined = OPS[spec.kind];
  if (!definition) throw new Error(`${spec.kind}: not a registered layer kind`);
  // Looked up by the spec's own kind, the definition takes exactly this spec type.
  return definition as unknown as OpDefinition<S>;
}
