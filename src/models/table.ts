/**
 * The models this package builds by name, in one table: what the CLI offers, what a run config and a
 * checkpoint name, and how each is built and fed.
 *
 * @module
 */

import {
  type ResNet,
  resnet101,
  resnet110,
  resnet152,
  resnet18,
  resnet20,
  resnet32,
  resnet34,
  resnet44,
  resnet50,
  resnet56,
  type ResNetOptions,
  resnext101_32x8d,
  resnext101_64x4d,
  resnext50_32x4d,
  type Stem,
  wide_resnet101_2,
  wide_resnet50_2,
} from "./resnet.ts";

/** What building a model by name takes; the CIFAR ResNets ignore `stem`, having their own. */
export type ModelOptions = Pick<ResNetOptions, "numClasses" | "stem" | "seed" | "zeroInitResidual">;

/** One row of {@linkcode MODELS}. */
export interface ModelEntry {
  /**
   * The data set the architecture was designed for: `"imagenet"` for torchvision's ResNets, ResNeXts and
   * Wide ResNets (either stem),
   * `"cifar"` for He et al.'s CIFAR ResNets (always their own 3x3 stem).
   */
  readonly family: Stem;
  /** Classifier outputs when none are asked for: ImageNet's 1000 or CIFAR-10's 10. */
  readonly numClasses: number;
  /** Makes a freshly initialised model (He et al.'s CIFAR ResNets are `CifarResNet`s). */
  readonly build: (options?: ModelOptions) => ResNet;
}

const imagenet = (build: ModelEntry["build"]): ModelEntry => ({
  family: "imagenet",
  numClasses: 1000,
  build,
});
const cifar = (build: ModelEntry["build"]): ModelEntry => ({ family: "cifar", numClasses: 10, build });

/**
 * Every model's name: the ImageNet ResNets, ResNeXts and Wide ResNets (torchvision's), then He et al.'s
 * CIFAR ResNets.
 *
 * @example
 * ```ts
 * import { MODEL_NAMES } from "@denogpu/resnet";
 * console.log(MODEL_NAMES.join(", ")); // resnet18, resnet34, ..., resnet110
 * ```
 */
export const MODEL_NAMES = [
  "resnet18",
  "resnet34",
  "resnet50",
  "resnet101",
  "resnet152",
  "resnext50_32x4d",
  "resnext101_32x8d",
  "resnext101_64x4d",
  "wide_resnet50_2",
  "wide_resnet101_2",
  "resnet20",
  "resnet32",
  "resnet44",
  "resnet56",
  "resnet110",
] as const;

/** A model {@linkcode buildModel} makes. */
export type ModelName = typeof MODEL_NAMES[number];

/**
 * Each model by name (the type makes it list exactly {@linkcode MODEL_NAMES}).
 *
 * @example
 * ```ts
 * import { MODELS } from "@denogpu/resnet";
 * console.log(MODELS.resnet56.family); // "cifar"
 * const model = MODELS.resnet18.build({ numClasses: 10, seed: 0 });
 * ```
 */
export const MODELS: Readonly<Record<ModelName, ModelEntry>> = {
  resnet18: imagenet(resnet18),
  resnet34: imagenet(resnet34),
  resnet50: imagenet(resnet50),
  resnet101: imagenet(resnet101),
  resnet152: imagenet(resnet152),
  resnext50_32x4d: imagenet(resnext50_32x4d),
  resnext101_32x8d: imagenet(resnext101_32x8d),
  resnext101_64x4d: imagenet(resnext101_64x4d),
  wide_resnet50_2: imagenet(wide_resnet50_2),
  wide_resnet101_2: imagenet(wide_resnet101_2),
  resnet20: cifar(resnet20),
  resnet32: cifar(resnet32),
  resnet44: cifar(resnet44),
  resnet56: cifar(resnet56),
  resnet110: cifar(resnet110),
};

/**
 * Whether `name` is in {@linkcode MODELS}.
 *
 * @example
 * ```ts
 * import { isModelName } from "@denogpu/resnet/train";
 * console.log(isModelName("resnet50"), isModelName("vgg16")); // true false
 * ```
 */
export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

/**
 * The names of one family, e.g. for a help text.
 *
 * @example
 * ```ts
 * import { modelNamesOf } from "@denogpu/resnet/train";
 * console.log(modelNamesOf("cifar")); // ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
 * ```
 */
export function modelNamesOf(family: Stem): ModelName[] {
  return MODEL_NAMES.filter((name) => MODELS[name].family === family);
}

/**
 * The stem `name` is built with given the `stem` asked for: a CIFAR ResNet's own, else `stem`, which
 * defaults to the model's family.
 *
 * @example
 * ```ts
 * import { modelStem } from "@denogpu/resnet/train";
 * console.log(modelStem("resnet20", "imagenet"), modelStem("resnet18")); // "cifar" "imagenet"
 * ```
 */
export function modelStem(name: ModelName, stem?: Stem): Stem {
  const { family } = MODELS[name];
  return family === "cifar" ? family : stem ?? family;
}

/**
 * Height and width of the images a stem is made for: 224 for ImageNet's, 32 for CIFAR's.
 *
 * @example
 * ```ts
 * import { INPUT_SIZE, modelStem } from "@denogpu/resnet/train";
 * const size = INPUT_SIZE[modelStem("resnet50")]; // 224
 * ```
 */
export const INPUT_SIZE: Readonly<Record<Stem, number>> = { imagenet: 224, cifar: 32 };

/**
 * A freshly initialised model by name (the same `seed` gives the same weights; a random one by default).
 *
 * @throws {Error} When `name` is not in {@linkcode MODELS}.
 *
 * @example
 * ```ts
 * import { buildModel } from "@denogpu/resnet";
 * const model = buildModel("resnet18", { numClasses: 10, stem: "cifar", seed: 0 });
 * ```
 */
export function buildModel(name: ModelName, options: ModelOptions = {}): ResNet {
  if (!isModelName(name)) throw new Error(`unknown model "${name}"; one of ${MODEL_NAMES.join(", ")}`);
  return MODELS[name].build(options);
}
