/**
 * Weight initialisation as `torch.nn.init` does it, drawing from an explicit {@linkcode Generator} value
 * rather than a process-wide random state, so that a model's initial weights are a function of the seed
 * it is given and of nothing else: the same numbers PyTorch's CPU generator gives after
 * `torch.manual_seed(seed)`, so that a model built here with a seed starts as PyTorch's built after that.
 *
 * @module
 */

import type { Parameter } from "./parameter.ts";

const TWO_TO_32 = 0x100000000;
const STATE_WORDS = 624;
const SHIFT_WORDS = 397;

/**
 * A seeded source of random numbers for initialisation, as `torch.Generator` on the CPU: the 32-bit
 * Mersenne Twister (mt19937) seeded as `torch.manual_seed(seed)` seeds it, with torch's ways of turning its
 * words into uniforms and normals, so the streams are PyTorch's. Without a seed it takes a fresh random one,
 * as PyTorch does without `torch.manual_seed`.
 *
 * @example
 * ```ts
 * import { Generator } from "@denogpu/resnet";
 * const a = new Generator(42), b = new Generator(42);
 * console.log(a.uniform() === b.uniform()); // true
 * console.log(new Generator(0).uniform()); // 0.49625658988952637, as torch.manual_seed(0); torch.rand(1)
 * console.log(new Generator().initialSeed); // a fresh random seed
 * ```
 */
export class Generator {
  /** The seed the generator started from, as `torch.Generator.initial_seed()`. */
  readonly initialSeed: number;
  readonly #state = new Uint32Array(STATE_WORDS);
  #next = STATE_WORDS;
  // The second value of the last Box-Muller pair that normal() made, which torch returns next.
  #spareNormal: number | undefined;

  /**
   * Starts the stream at `seed`, a non-negative safe integer. As `torch.manual_seed`, only its low 32 bits
   * seed the stream (seeds 2^32 apart share it); a random seed when omitted.
   *
   * @throws {RangeError} When `seed` is negative, fractional or beyond `Number.MAX_SAFE_INTEGER`.
   */
  constructor(seed: number = crypto.getRandomValues(new Uint32Array(1))[0]) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    this.initialSeed = seed;
    const state = this.#state;
    state[0] = seed % TWO_TO_32;
    for (let i = 1; i < STATE_WORDS; i++) {
      state[i] = Math.imul(1812433253, state[i - 1] ^ (state[i - 1] >>> 30)) + i;
    }
  }

  /** The next 32-bit word of the stream (torch's `random()`). */
  random(): number {
    if (this.#next >= STATE_WORDS) this.#twist();
    let y = this.#state[this.#next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    return (y ^ (y >>> 18)) >>> 0;
  }

  /** A uniform float in [0, 1) with 24 random bits, from one word: `torch.rand` of a float32 tensor. */
  uniform(): number {
    return (this.random() & 0xffffff) / 0x1000000;
  }

  /**
   * A standard normal float, as torch's scalar `normal_distribution<double>`: Box-Muller on two 53-bit
   * uniforms gives a pair, the second kept for the next call.
   */
  normal(): number {
    const spare = this.#spareNormal;
    if (spare !== undefined) {
      this.#spareNormal = undefined;
      return spare;
    }
    const u1 = this.#uniform53(), u2 = this.#uniform53();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    this.#spareNormal = radius * Math.sin(2 * Math.PI * u1);
    return radius * Math.cos(2 * Math.PI * u1);
  }

  /** A uniform double in [0, 1) from two words, as torch's `uniform_real_distribution<double>`. */
  #uniform53(): number {
    const high = this.random(), low = this.random();
    return ((high & 0x1fffff) * TWO_TO_32 + low) / 2 ** 53;
  }

  #twist(): void {
    const state = this.#state;
    for (let k = 0; k < STATE_WORDS; k++) {
      const y = (state[k] & 0x80000000) | (state[(k + 1) % STATE_WORDS] & 0x7fffffff);
      state[k] = state[(k + SHIFT_WORDS) % STATE_WORDS] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#next = 0;
  }
}

/**
 * Fills `parameter` from N(mean, std²), as `torch.nn.init.normal_(p, mean, std)` does a float32 tensor on
 * the CPU: from 16 values up, all of them drawn as uniforms first, then Box-Muller on the pairs (i, i + 8)
 * of each run of 16 (the last 16 drawn afresh and redone when 16 does not divide the length); below 16, one
 * {@linkcode Generator.normal} each.
 *
 * @example
 * ```ts
 * import { Generator, Parameter } from "@denogpu/resnet";
 * import { normal } from "@denogpu/resnet/ops";
 * const weight = new Parameter([64, 3, 7, 7], "parameter");
 * normal(weight, 0, 0.01, new Generator(0)); // as torch.manual_seed(0); nn.init.normal_(w, 0, 0.01)
 * ```
 */
export function normal(parameter: Parameter, mean: number, std: number, generator: Generator): void {
  const data = parameter.data;
  if (data.length < 16) {
    for (let i = 0; i < data.length; i++) data[i] = generator.normal() * std + mean;
    return;
  }
  // torch passes mean and std on to this path as float32.
  const m = Math.fround(mean), s = Math.fround(std);
  for (let i = 0; i < data.length; i++) data[i] = generator.uniform();
  for (let i = 0; i + 16 <= data.length; i += 16) boxMuller16(data, i, m, s);
  if (data.length % 16 !== 0) {
    const last = data.length - 16;
    for (let i = last; i < data.length; i++) data[i] = generator.uniform();
    boxMuller16(data, last, m, s);
  }
}

/** Turns the 16 uniforms at `at` into normals: (at + j, at + j + 8) from one pair each. */
function boxMuller16(data: Float32Array, at: number, mean: number, std: number): void {
  for (let j = at; j < at + 8; j++) {
    const radius = Math.sqrt(-2 * Math.log(1 - data[j]));
    const theta = 2 * Math.PI * data[j + 8];
    data[j] = radius * Math.cos(theta) * std + mean;
    data[j + 8] = radius * Math.sin(theta) * std + mean;
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
  normal(weight, 0, kaimingStd(weight, options), options.generator);
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
  // As torch's uniform_ of a float32 tensor, in float32 arithmetic.
  const from = Math.fround(-bound), width = Math.fround(Math.fround(bound) - from);
  const data = parameter.data;
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(generator.uniform() * width) + from;
}
