/**
 * The layers of `torch.nn` that ResNets use, with PyTorch's constructor arguments, defaults, parameter
 * names and initialisation.
 *
 * @module
 */

import type { LayerSpec, SymbolicTensor } from "./graph.ts";
import { fans, Generator, kaimingUniform, uniform } from "./init.ts";
import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

/**
 * PyTorch's `reset_parameters` of `nn.Conv2d` and `nn.Linear`: Kaiming uniform with `a = sqrt(5)` for the
 * weight (U(±1/sqrt(fan_in))), U(±1/sqrt(fan_in)) for the bias.
 */
function resetLikePyTorch(weight: Parameter, bias: Parameter | undefined, generator: Generator): void {
  kaimingUniform(weight, { a: Math.sqrt(5), generator });
  if (bias) uniform(bias, 1 / Math.sqrt(fans(weight).fanIn), generator);
}

/** A size given once for both axes or as `[height, width]`, as PyTorch accepts. */
export type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => typeof v === "number" ? [v, v] : [v[0], v[1]];

function leaf(module: Module, x: SymbolicTensor, spec: LayerSpec): SymbolicTensor {
  return x.graph.add(module.path || spec.kind, spec, [x], module.ownParameters);
}

/** Options of {@linkcode Conv2d}, PyTorch's defaults when omitted. */
export interface Conv2dLayerOptions {
  /** Default 1. */
  stride?: Pair;
  /** Default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1. */
  groups?: number;
  /** Default true, as `nn.Conv2d` (ResNets pass false). */
  bias?: boolean;
  /** The stream the initial weights are drawn from; a freshly seeded one by default. */
  generator?: Generator;
}

/**
 * `nn.Conv2d`, initialised as PyTorch's default (U(±1/sqrt(fan_in)) for weight and bias; models re-initialise
 * their convolutions as they need, as torchvision's ResNets do).
 *
 * @example
 * ```ts
 * import { Conv2d, Generator } from "@denogpu/resnet";
 * const conv = new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false, generator: new Generator(0) });
 * ```
 */
export class Conv2d extends Module {
  /** The layer's geometry. */
  readonly spec: Extract<LayerSpec, { kind: "conv2d" }>;
  /** `[out, in / groups, kh, kw]`. */
  readonly weight: Parameter;
  /** `[out]`, when the layer has a bias. */
  readonly bias?: Parameter;

  /** As `nn.Conv2d(inChannels, outChannels, kernelSize, ...)`. */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dLayerOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new Error(
        `Conv2d: in_channels ${inChannels} and out_channels ${outChannels} must be divisible by groups ${groups}`,
      );
    }
    this.spec = {
      kind: "conv2d",
      inChannels,
      outChannels,
      kernelSize: pair(kernelSize),
      stride: pair(options.stride ?? 1),
      padding: pair(options.padding ?? 0),
      dilation: pair(options.dilation ?? 1),
      groups,
      bias: options.bias ?? true,
    };
    const [kh, kw] = this.spec.kernelSize;
    this.weight = this.register(
      "weight",
      new Parameter([outChannels, inChannels / groups, kh, kw], "parameter"),
    );
    if (this.spec.bias) this.bias = this.register("bias", new Parameter([outChannels], "parameter"));
    resetLikePyTorch(this.weight, this.bias, options.generator ?? new Generator());
  }

  /** Adds the convolution to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}

/**
 * `nn.BatchNorm2d` with PyTorch's defaults (eps 1e-5, momentum 0.1), weight 1 and bias 0.
 *
 * @example
 * ```ts
 * import { BatchNorm2d } from "@denogpu/resnet";
 * const bn = new BatchNorm2d(64);
 * console.log([...bn.stateDict().keys()]);
 * // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export class BatchNorm2d extends Module {
  /** The layer's settings. */
  readonly spec: Extract<LayerSpec, { kind: "batchnorm2d" }>;
  /** The scale `[numFeatures]` (gamma). */
  readonly weight: Parameter;
  /** The shift `[numFeatures]` (beta). */
  readonly bias: Parameter;

  /** As `nn.BatchNorm2d(numFeatures, eps, momentum)`. */
  constructor(numFeatures: number, options: { eps?: number; momentum?: number } = {}) {
    super();
    this.spec = {
      kind: "batchnorm2d",
      numFeatures,
      eps: options.eps ?? 1e-5,
      momentum: options.momentum ?? 0.1,
    };
    this.weight = this.register(
      "weight",
      new Parameter([numFeatures], "parameter", new Float32Array(numFeatures).fill(1)),
    );
    this.bias = this.register("bias", new Parameter([numFeatures], "parameter"));
    this.register("running_mean", new Parameter([numFeatures], "buffer"));
    this.register(
      "running_var",
      new Parameter([numFeatures], "buffer", new Float32Array(numFeatures).fill(1)),
    );
    this.register("num_batches_tracked", new Parameter([], "buffer", new Float32Array(1), true));
  }

  /** Adds the normalisation to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}

/**
 * `nn.ReLU`.
 *
 * @example
 * ```ts
 * import { ReLU, Sequential } from "@denogpu/resnet";
 * const graph = new Sequential(new ReLU()).trace([3, 4, 4]);
 * console.log(graph.output.spec.kind, graph.output.shape); // "relu" [3, 4, 4]
 * ```
 */
export class ReLU extends Module {
  /** Adds the ReLU to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "relu" });
  }
}

/**
 * `nn.Identity`.
 *
 * @example
 * ```ts
 * import { Identity, Sequential } from "@denogpu/resnet";
 * const graph = new Sequential(new Identity()).trace([3, 4, 4]);
 * console.log(graph.output.spec.kind, graph.output.shape); // "identity" [3, 4, 4]
 * ```
 */
export class Identity extends Module {
  /** Adds a pass-through node to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "identity" });
  }
}

/**
 * `nn.MaxPool2d` (stride defaults to the kernel size, as PyTorch).
 *
 * @example
 * ```ts
 * import { MaxPool2d, Sequential } from "@denogpu/resnet";
 * const pool = new MaxPool2d(3, { stride: 2, padding: 1 }); // a ResNet stem's pool
 * console.log(new Sequential(pool).trace([64, 112, 112]).output.shape); // [64, 56, 56]
 * ```
 */
export class MaxPool2d extends Module {
  /** The window. */
  readonly spec: Extract<LayerSpec, { kind: "maxpool2d" }>;

  /** As `nn.MaxPool2d(kernelSize, stride, padding, dilation)`. */
  constructor(kernelSize: Pair, options: { stride?: Pair; padding?: Pair; dilation?: Pair } = {}) {
    super();
    this.spec = {
      kind: "maxpool2d",
      kernelSize: pair(kernelSize),
      stride: pair(options.stride ?? kernelSize),
      padding: pair(options.padding ?? 0),
      dilation: pair(options.dilation ?? 1),
    };
  }

  /** Adds the pooling to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}

/**
 * `nn.AdaptiveAvgPool2d((1, 1))`, the only output size ResNets use.
 *
 * @example
 * ```ts
 * import { AdaptiveAvgPool2d, Sequential } from "@denogpu/resnet";
 * const graph = new Sequential(new AdaptiveAvgPool2d()).trace([512, 7, 7]);
 * console.log(graph.output.shape); // [512, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /**
   * Only `1` or `[1, 1]` is supported.
   *
   * @throws {Error} For any other output size.
   */
  constructor(outputSize: Pair = 1) {
    super();
    const [h, w] = pair(outputSize);
    if (h !== 1 || w !== 1) {
      throw new Error(`AdaptiveAvgPool2d: only output size (1, 1) is supported, got (${h}, ${w})`);
    }
  }

  /** Adds the pooling to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "adaptiveavgpool2d" });
  }
}

/**
 * `nn.Flatten()` (`torch.flatten(x, 1)`).
 *
 * @example
 * ```ts
 * import { AdaptiveAvgPool2d, Flatten, Sequential } from "@denogpu/resnet";
 * const graph = new Sequential(new AdaptiveAvgPool2d(), new Flatten()).trace([512, 7, 7]);
 * console.log(graph.output.shape); // [512]
 * ```
 */
export class Flatten extends Module {
  /** Adds the reshape to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "flatten" });
  }
}

/**
 * `nn.Linear` with PyTorch's default initialisation (U(±1/sqrt(in_features)) for weight and bias).
 *
 * @example
 * ```ts
 * import { Generator, Linear } from "@denogpu/resnet";
 * const fc = new Linear(512, 10, { generator: new Generator(0) });
 * ```
 */
export class Linear extends Module {
  /** The layer's sizes. */
  readonly spec: Extract<LayerSpec, { kind: "linear" }>;
  /** `[out, in]`. */
  readonly weight: Parameter;
  /** `[out]`, when the layer has a bias. */
  readonly bias?: Parameter;

  /**
   * As `nn.Linear(inFeatures, outFeatures, bias)`; `bias` defaults to true, `generator` (the stream the
   * initial weights are drawn from) to a freshly seeded one.
   */
  constructor(
    inFeatures: number,
    outFeatures: number,
    options: { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    this.spec = { kind: "linear", inFeatures, outFeatures, bias: options.bias ?? true };
    this.weight = this.register("weight", new Parameter([outFeatures, inFeatures], "parameter"));
    if (this.spec.bias) this.bias = this.register("bias", new Parameter([outFeatures], "parameter"));
    resetLikePyTorch(this.weight, this.bias, options.generator ?? new Generator());
  }

  /** Adds the layer to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}
