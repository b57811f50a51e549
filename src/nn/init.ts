/**
 * Weight initialisation as `torch.nn.init` does it, drawing from an explicit {@linkcode Generator} value
 * rather than a process-wide random state, so that a model's initial weights are a function of the seed
 * it is given and of nothing else.
 *
 * @module
 */

import type { Parameter } from "./parameter.ts";

const TWO_TO_32 = 0x100000000;

/**
 * A seeded source of random numbers for initialisation, as `torch.Generator`: mulberry32 for uniforms,
 * Box-Muller for normals. The same seed gives the same numbers; without a seed it takes a fresh random
 * one, as PyTorch does without `torch.manual_seed`.
 *
 * @example
 * ```ts
 * import { Generator } from "@denogpu/resnet";
 * const a = new Generator(42), b = new Generator(42);
 * console.log(a.uniform() === b.uniform()); // true
 * console.log(new Generator().initialSeed); // a fresh random seed
 * ```
 */
export class Generator {
  /** The seed the generator started from, as `torch.Generator.initial_seed()`. */
  readonly initialSeed: number;
  #state: number;

  /**
   * Starts the stream at `seed`, a non-negative safe integer (seeds below 2^32 are the state itself);
   * a random seed when omitted.
   *
   * @throws {RangeError} When `seed` is negative, fractional or beyond `Number.MAX_SAFE_INTEGER`.
   */
  constructor(seed: number = crypto.getRandomValues(new Uint32Array(1))[0]) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    this.initialSeed = seed;
    // Folding the high word in keeps seeds 2^32 apart from sharing a stream.
    this.#state = ((seed % TWO_TO_32) ^ Math.imul(Math.floor(seed / TWO_TO_32), 0x9e3779b9)) >>> 0;
  }

  /** A uniform float in [0, 1) (mulberry32). */
  uniform(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_TO_32;
  }

  /** A standard normal float (Box-Muller on two uniforms; `1 - u` keeps the logarithm finite). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}

/** How a Kaiming initialisation scales: by the inputs (`fanIn`, PyTorch's default) or outputs per unit. */
export type FanMode = "fanIn" | "fanOut";

/** Options of {@linkcode kaimingNormal} and {@linkcode kaimingUniform}, as `torch.nn.init`'s. */
export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows; 0 (plain ReLU) by default. */
  a?: number;
  /** Default `"fanIn"`. */
  mode?: FanMode;
  /** The stream to draw from. */
  generator: Generator;
}

/**
 * `(fanIn, fanOut)` of a weight of shape `[out, in, ...kernel]`, as `torch.nn.init._calculate_fan_in_and_fan_out`.
 *
 * @throws {Error} For a weight of fewer than two dimensions.
 *
 * @example
 * ```ts
 * import { Parameter } from "@denogpu/resnet";
 * import { fans } from "@denogpu/resnet/ops";
 * console.log(fans(new Parameter([64, 3, 7, 7], "parameter"))); // { fanIn: 147, fanOut: 3136 }
 * ```
 */
export function fans(weight: Parameter): { fanIn: number; fanOut: number } {
  const [outputs, inputs, ...kernel] = weight.shape;
  if (inputs === undefined) {
    throw new Error(`fan in and fan out need 2 or more dimensions, got [${weight.shape}]`);
  }
  const receptiveField = kernel.reduce((a, b) => a * b, 1);
  return { fanIn: inputs * receptiveField, fanOut: outputs * receptiveField };
}

function kaimingStd(weight: Parameter, options: KaimingOptions): number {
  const a = options.a ?? 0;
  const fan = fans(weight)[options.mode ?? "fanIn"];
  // torch.nn.init.calculate_gain("leaky_relu", a); a = 0 is ReLU's sqrt(2).
  return Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fan);
}

/**
 * Fills `weight` from N(0, std²) with `std = gain / sqrt(fan)`, as `torch.nn.init.kaiming_normal_`.
 *
 * @example
 * ```ts
 * import { Conv2d, Generator, kaimingNormal } from "@denogpu/resnet";
 * const conv = new Conv2d(64, 64, 3, { padding: 1, bias: false });
 * kaimingNormal(conv.weight, { mode: "fanOut", generator: new Generator(0) }); // torchvision's ResNets
 * ```
 */
export function kaimingNormal(weight: Parameter, options: KaimingOptions): void {
  const std = kaimingStd(weight, options);
  const { generator } = options;
  for (let i = 0; i < weight.data.length; i++) weight.data[i] = std * generator.normal();
}

/**
 * Fills `weight` from U(-bound, bound) with `bound = gain * sqrt(3 / fan)`, as
 * `torch.nn.init.kaiming_uniform_`.
 *
 * @example
 * ```ts
 * import { Generator, kaimingUniform, Linear } from "@denogpu/resnet";
 * const fc = new Linear(512, 10);
 * kaimingUniform(fc.weight, { a: Math.sqrt(5), generator: new Generator(0) }); // nn.Linear's default
 * ```
 */
export function kaimingUniform(weight: Parameter, options: KaimingOptions): void {
  uniform(weight, Math.sqrt(3) * kaimingStd(weight, options), options.generator);
}

/**
 * Fills `parameter` from U(-bound, bound), as `torch.nn.init.uniform_(p, -bound, bound)`.
 *
 * @example
 * ```ts
 * import { Generator, Linear } from "@denogpu/resnet";
 * import { uniform } from "@denogpu/resnet/ops";
 * const fc = new Linear(512, 10);
 * uniform(fc.bias!, 1 / Math.sqrt(512), new Generator(0)); // nn.Linear's default bias
 * ```
 */
export function uniform(parameter: Parameter, bound: number, generator: Generator): void {
  for (let i = 0; i < parameter.data.length; i++) parameter.data[i] = (generator.uniform() * 2 - 1) * bound;
}
