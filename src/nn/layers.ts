/**
 * The layers of `torch.nn` that ResNets use, with PyTorch's constructor arguments, defaults, parameter
 * names and initialisation.
 *
 * @module
 */

import type { LayerSpec, SymbolicTensor } from "./graph.ts";
import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

let generatorState = 0x2545f491;

/** Seeds the generator that initialises new layers' weights (as `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  generatorState = seed >>> 0;
}

/** A uniform float in [0, 1) from the initialisation generator (mulberry32). */
function uniform(): number {
  generatorState = (generatorState + 0x6d2b79f5) >>> 0;
  let t = generatorState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function fill(size: number, sample: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = sample();
  return out;
}

const uniformIn = (bound: number) => () => (uniform() * 2 - 1) * bound;
const normal = (std: number) => () =>
  std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());

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
}

/**
 * `nn.Conv2d`. Weights start as torchvision's ResNets initialise them: Kaiming normal, fan-out, ReLU gain.
 *
 * @example
 * ```ts
 * import { Conv2d } from "@denogpu/resnet";
 * const conv = new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
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
    const shape = [outChannels, inChannels / groups, kh, kw];
    const fanOut = outChannels * kh * kw;
    this.weight = this.register(
      "weight",
      new Parameter(shape, "parameter", fill(shape.reduce((a, b) => a * b), normal(Math.sqrt(2 / fanOut)))),
    );
    if (this.spec.bias) {
      const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
      this.bias = this.register(
        "bias",
        new Parameter([outChannels], "parameter", fill(outChannels, uniformIn(bound))),
      );
    }
  }

  /** Adds the convolution to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}

/** `nn.BatchNorm2d` with PyTorch's defaults (eps 1e-5, momentum 0.1), weight 1 and bias 0. */
export class BatchNorm2d extends Module {
  /** The layer's settings. */
  readonly spec: Extract<LayerSpec, { kind: "batchnorm2d" }>;

  /** As `nn.BatchNorm2d(numFeatures, eps, momentum)`. */
  constructor(numFeatures: number, options: { eps?: number; momentum?: number } = {}) {
    super();
    this.spec = {
      kind: "batchnorm2d",
      numFeatures,
      eps: options.eps ?? 1e-5,
      momentum: options.momentum ?? 0.1,
    };
    this.register("weight", new Parameter([numFeatures], "parameter", new Float32Array(numFeatures).fill(1)));
    this.register("bias", new Parameter([numFeatures], "parameter"));
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

/** `nn.ReLU`. */
export class ReLU extends Module {
  /** Adds the ReLU to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "relu" });
  }
}

/** `nn.Identity`. */
export class Identity extends Module {
  /** Adds a pass-through node to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "identity" });
  }
}

/** `nn.MaxPool2d` (stride defaults to the kernel size, as PyTorch). */
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

/** `nn.AdaptiveAvgPool2d((1, 1))`, the only output size ResNets use. */
export class AdaptiveAvgPool2d extends Module {
  /** Only `1` or `[1, 1]` is supported. */
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

/** `nn.Flatten()` (`torch.flatten(x, 1)`). */
export class Flatten extends Module {
  /** Adds the reshape to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, { kind: "flatten" });
  }
}

/** `nn.Linear` with PyTorch's default initialisation (uniform in ±1/sqrt(in_features)). */
export class Linear extends Module {
  /** The layer's sizes. */
  readonly spec: Extract<LayerSpec, { kind: "linear" }>;
  /** `[out, in]`. */
  readonly weight: Parameter;
  /** `[out]`, when the layer has a bias. */
  readonly bias?: Parameter;

  /** As `nn.Linear(inFeatures, outFeatures, bias)`. */
  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    this.spec = { kind: "linear", inFeatures, outFeatures, bias: options.bias ?? true };
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.register(
      "weight",
      new Parameter([outFeatures, inFeatures], "parameter", fill(outFeatures * inFeatures, uniformIn(bound))),
    );
    if (this.spec.bias) {
      this.bias = this.register(
        "bias",
        new Parameter([outFeatures], "parameter", fill(outFeatures, uniformIn(bound))),
      );
    }
  }

  /** Adds the layer to the graph. */
  forward(x: SymbolicTensor): SymbolicTensor {
    return leaf(this, x, this.spec);
  }
}
