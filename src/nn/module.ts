/**
 * Modules as in `torch.nn`: a module owns parameters and child modules, and names them the way PyTorch's
 * `state_dict` does: a child is named by the property that holds it, a {@linkcode Sequential}'s children by
 * their index.
 *
 * @module
 */

import type { StateDict, TensorData } from "../io/state_dict.ts";
import { matchStateDict } from "../io/state_dict.ts";
import { Graph, type SymbolicTensor } from "./graph.ts";
import type { Parameter } from "./parameter.ts";

/**
 * The base of every layer and model. Subclasses assign child modules and parameters to properties in their
 * constructor, as in PyTorch, and implement {@linkcode Module.forward} on symbolic tensors.
 *
 * @example
 * ```ts
 * import { Conv2d, Module, ReLU, type SymbolicTensor } from "@denogpu/resnet";
 * class Stem extends Module {
 *   conv = new Conv2d(3, 16, 3, { padding: 1, bias: false });
 *   relu = new ReLU();
 *   forward(x: SymbolicTensor): SymbolicTensor {
 *     return this.relu.forward(this.conv.forward(x));
 *   }
 * }
 * const stem = new Stem();
 * console.log([...stem.stateDict().keys()], stem.parameterCount()); // ["conv.weight"] 432
 * ```
 */
export abstract class Module {
  /** This module's path in its model, e.g. `"layer1.0"`; `""` for the model itself. */
  path = "";
  /** Parameters and buffers by local name, in registration order. */
  readonly ownParameters: Map<string, Parameter> = new Map();

  /** Traces this module on `x`, adding its nodes to `x`'s graph. */
  abstract forward(x: SymbolicTensor): SymbolicTensor;

  /**
   * Traces the model on a per-sample input shape (e.g. `[3, 32, 32]`), inferring and checking every
   * layer's shape; throws naming the layer and both shapes on a mismatch.
   *
   * @throws {Error} Naming the layer and both shapes when a layer does not fit its input, or when
   * `inputShape` is not three positive integers.
   */
  trace(inputShape: readonly number[]): Graph {
    this.nameModules();
    const output = this.forward(Graph.input(inputShape));
    return output.graph;
  }

  /** Registers a parameter or buffer under its local name (e.g. `"weight"`). */
  protected register(name: string, parameter: Parameter): Parameter {
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  /** Child modules by name, in the order they were assigned. */
  children(): Array<[string, Module]> {
    return Object.entries(this).filter((entry): entry is [string, Module] => entry[1] instanceof Module);
  }

  /** Sets every module's path and parameter names from the property names, as PyTorch does. */
  nameModules(prefix = ""): void {
    this.path = prefix;
    for (const [name, parameter] of this.ownParameters) parameter.name = prefix ? `${prefix}.${name}` : name;
    for (const [name, child] of this.children()) child.nameModules(prefix ? `${prefix}.${name}` : name);
  }

  /** All parameters and buffers in `state_dict` order, named from this module as the root. */
  namedParameters(): Parameter[] {
    this.nameModules();
    const collect = (module: Module): Parameter[] => [
      ...module.ownParameters.values(),
      ...module.children().flatMap(([, child]) => collect(child)),
    ];
    return collect(this);
  }

  /** Trainable parameters (role `"parameter"`), frozen ones included. */
  parameters(): Parameter[] {
    return this.namedParameters().filter((p) => p.role === "parameter");
  }

  /** The number of trainable values, as torchvision counts them (buffers excluded). */
  parameterCount(): number {
    return this.parameters().reduce((sum, p) => sum + p.size, 0);
  }

  /** A copy of every parameter and buffer, keyed as PyTorch's `state_dict()`. */
  stateDict(): StateDict {
    const dict: StateDict = new Map();
    for (const p of this.namedParameters()) {
      const entry: TensorData = p.integer
        ? {
          shape: [...p.shape],
          dtype: "I64",
          data: BigInt64Array.from(p.data, (v) => BigInt(Math.round(v))),
        }
        : { shape: [...p.shape], dtype: "F32", data: p.data.slice() };
      dict.set(p.name, entry);
    }
    return dict;
  }

  /**
   * Loads parameters and buffers from a state dict, as PyTorch's `load_state_dict`. Strict (the default)
   * throws one error listing every missing, unexpected and mismatched key; non-strict loads what matches and
   * returns the lists.
   *
   * @throws {Error} When `strict` (the default) and a key is missing, unexpected or of another shape.
   */
  loadStateDict(
    dict: StateDict,
    options: { strict?: boolean; source?: string } = {},
  ): { missing: string[]; unexpected: string[]; mismatched: string[] } {
    const byName = new Map(this.namedParameters().map((p) => [p.name, p]));
    const result = matchStateDict(
      new Map([...byName].map(([name, p]) => [name, p.shape])),
      dict,
      { strict: options.strict ?? true, source: options.source ?? "state dict" },
    );
    for (const name of result.matched) {
      const parameter = byName.get(name)!;
      const data = dict.get(name)!.data;
      parameter.data = data instanceof BigInt64Array
        ? Float32Array.from(data, Number)
        : Float32Array.from(data);
    }
    return { missing: result.missing, unexpected: result.unexpected, mismatched: result.mismatched };
  }

  /**
   * Freezes (`requiresGrad = false`) every parameter whose name `predicate` accepts and unfreezes the others;
   * e.g. `model.freeze((name) => !name.startsWith("fc."))` trains only the head.
   */
  freeze(predicate: (name: string) => boolean): void {
    for (const p of this.parameters()) p.requiresGrad = !predicate(p.name);
  }
}

/**
 * A chain of modules applied in order; children are named `"0"`, `"1"`, ... as in PyTorch.
 *
 * @example
 * ```ts
 * import { BatchNorm2d, Conv2d, ReLU, Sequential } from "@denogpu/resnet";
 * const block = new Sequential(new Conv2d(3, 8, 3, { bias: false }), new BatchNorm2d(8), new ReLU());
 * console.log(block.trace([3, 32, 32]).output.shape); // [8, 30, 30]
 * console.log([...block.stateDict().keys()][0]); // "0.weight"
 * ```
 */
export class Sequential extends Module {
  /** Chains `modules`. */
  constructor(...modules: Module[]) {
    super();
    modules.forEach((module, i) => (this as unknown as Record<string, Module>)[i] = module);
  }

  /** The modules in order. */
  get modules(): Module[] {
    return this.children().map(([, m]) => m);
  }

  /** Applies each module in turn. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return this.modules.reduce((h, m) => m.forward(h), x);
  }
}
