/**
 * What a training run is: the data set, the model and the recipe, checked once, with the default recipe
 * (He et al. 2016's CIFAR-10 recipe for ResNet-20) and the learning-rate schedule the recipe implies.
 *
 * @module
 */

import { parseAugment } from "../data/augment_spec.ts";
import type { CifarName } from "../data/cifar_layout.ts";
import type { Stem } from "../models/resnet.ts";
import { isModelName, MODEL_NAMES, type ModelName, MODELS } from "../models/table.ts";
import type { OptimizerKind } from "../optim/optimizer.ts";
import {
  cosineAnnealingLr,
  linearLr,
  multiStepLr,
  oneCycleLr,
  type Schedule,
  sequentialLr,
} from "../optim/schedule.ts";

/** Learning-rate schedules a run can use. */
export const SCHEDULE_NAMES = ["multistep", "cosine", "onecycle", "constant"] as const;

/** A learning-rate schedule of a run. */
export type ScheduleName = typeof SCHEDULE_NAMES[number];

/**
 * Optimizers a run can use: `torch.optim.SGD`, `Adam` and `AdamW`.
 *
 * @example
 * ```ts
 * import { OPTIMIZER_NAMES, resolveConfig } from "@denogpu/resnet/train";
 * console.log(OPTIMIZER_NAMES); // ["sgd", "adam", "adamw"]
 * const config = resolveConfig({ optimizer: "adamw", lr: 1e-3, weightDecay: 0.05 });
 * ```
 */
export const OPTIMIZER_NAMES: readonly OptimizerKind[] = ["sgd", "adam", "adamw"];

/** Everything that decides what a run computes (saved with every checkpoint; `--resume` reuses it). */
export interface RunConfig {
  /** Which CIFAR release, when the data is CIFAR. */
  dataset: CifarName;
  /**
   * Where the images come from: a CIFAR archive or folder, or `"synthetic"`; the official release in the
   * cache folder when absent. Saved, so that a resumed run reads the same data.
   */
  data?: string;
  /**
   * The model's input side: an image folder's (224 unless given), the synthetic shapes' (32), or CIFAR's
   * 32x32 images resized to it on the GPU.
   */
  imageSize?: number;
  /**
   * The training augmentation as `--augment` names it (see `parseAugment`), e.g.
   * `"randomresizedcrop,flip"`; `"crop,flip"` for images of the input size and `"randomresizedcrop,flip"`
   * for others unless given.
   */
  augment?: string;
  /** An image folder without `train/` and `val/`: the fraction of each class held out (0.1 unless given). */
  valSplit?: number;
  /** Which ResNet. */
  model: ModelName;
  /** The stem of resnet18..152 (the CIFAR ResNets have their own). */
  stem: Stem;
  /** Passes over the training set. */
  epochs: number;
  /** Images per optimizer step. */
  batchSize: number;
  /**
   * The optimizer; configs saved before there was a choice are SGD's.
   *
   * @default {"sgd"}
   */
  optimizer?: OptimizerKind;
  /** Peak learning rate. */
  lr: number;
  /** SGD momentum (not used by Adam and AdamW). */
  momentum: number;
  /**
   * Weight decay, with torch's meaning for the optimizer: an L2 penalty added to the gradient (SGD, Adam),
   * or decoupled, `w *= 1 - lr * weightDecay` (AdamW, 0.01 by default as in torch).
   */
  weightDecay: number;
  /** Nesterov momentum (SGD only). */
  nesterov: boolean;
  /** Adam's and AdamW's decay rates of the moment averages, each in [0, 1); torch's (0.9, 0.999) if unset. */
  betas?: [number, number];
  /** Adam's and AdamW's term added to the denominator, > 0; torch's 1e-8 if absent. */
  eps?: number;
  /** How the learning rate changes with the step. */
  schedule: ScheduleName;
  /** Epochs of linear warm-up from a tenth of `lr` before the schedule (not with `onecycle`). */
  warmup: number;
  /** PyTorch's `label_smoothing` of the training loss. */
  labelSmoothing: number;
  /** Seeds the initial weights, the data order and the augmentations. */
  seed: number;
  /** Weights to start from: a `.pth`/`.safetensors` file or `"imagenet"`; none by default. */
  pretrained?: string;
  /** `"none"`, `"backbone"` (train only `fc`) or a top-level module up to which everything is frozen. */
  freeze: string;
  /** Use only the first `limit` images of each split (a quick run). */
  limit?: number;
  /**
   * Keep an exponential moving average of the weights with this decay, in (0, 1), updated after every
   * step (torch's `AveragedModel` with `get_ema_multi_avg_fn(decay)` and `use_buffers=True`); evaluated
   * after each epoch and saved beside the weights. None by default.
   */
  ema?: number;
}

/**
 * The default recipe: He et al., "Deep Residual Learning for Image Recognition" (2016), section 4.2:
 * ResNet-20, SGD with momentum 0.9, weight decay 1e-4, batch 128, learning rate 0.1 divided by 10 at 50%
 * and 75% of training (32k and 48k of 64k iterations, i.e. epochs 82 and 123 of 164), random 32x32 crops
 * of the 4-pixel padded image and horizontal flips. Table 6 of the paper reports 8.75% test error for
 * ResNet-20 with it: 91.25% top-1 accuracy on CIFAR-10's test set (92.49 / 92.83 / 93.03 / 93.39% for
 * ResNet-32 / 44 / 56 / 110). This module's CIFAR ResNets use projection shortcuts (the paper's option B)
 * where the shape changes, so that every parameter has a torchvision-style name; the paper used option A.
 */
export const DEFAULT_CONFIG: Readonly<RunConfig> = {
  dataset: "cifar10",
  model: "resnet20",
  stem: "cifar",
  epochs: 164,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 1e-4,
  nesterov: false,
  schedule: "multistep",
  warmup: 0,
  labelSmoothing: 0,
  seed: 0,
  freeze: "none",
};

/**
 * A value of a {@linkcode RunConfig} that is out of range; `field` names it (the CLI names its flag).
 *
 * @example
 * ```ts
 * import { ConfigError, resolveConfig } from "@denogpu/resnet/train";
 * try {
 *   resolveConfig({ lr: -1 });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.log(error.field); // "lr"
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The offending field of the config. */
  readonly field: keyof RunConfig;

  /** Makes the error `"<field> <why>"`. */
  constructor(field: keyof RunConfig, why: string) {
    super(`${field} ${why}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

/**
 * The defaults completed by `given` and checked: throws a {@linkcode ConfigError} naming the first field
 * out of range.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "@denogpu/resnet/train";
 * const config = resolveConfig({ epochs: 30, schedule: "cosine" }); // the rest from DEFAULT_CONFIG
 * ```
 */
export function resolveConfig(given: Partial<RunConfig> = {}): RunConfig {
  // AdamW's own default decay (torch.optim.AdamW's 0.01) unless one is given; the rest share the recipe's.
  const defaults = given.optimizer === "adamw" ? { ...DEFAULT_CONFIG, weightDecay: 0.01 } : DEFAULT_CONFIG;
  const config: RunConfig = { ...defaults, ...withoutUndefined(given) };
  const positiveInteger = (
    field: "epochs" | "batchSize" | "limit" | "imageSize",
    value: number | undefined,
  ) => {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new ConfigError(field, `must be a positive integer, got ${value}`);
    }
  };
  if (!["cifar10", "cifar100"].includes(config.dataset)) {
    throw new ConfigError("dataset", `must be cifar10 or cifar100, got ${config.dataset}`);
  }
  if (!isModelName(config.model)) {
    throw new ConfigError("model", `must be one of ${MODEL_NAMES.join(", ")}; got ${config.model}`);
  }
  if (!["imagenet", "cifar"].includes(config.stem)) {
    throw new ConfigError("stem", `must be imagenet or cifar, got ${config.stem}`);
  }
  positiveInteger("epochs", config.epochs);
  positiveInteger("batchSize", config.batchSize);
  positiveInteger("limit", config.limit);
  positiveInteger("imageSize", config.imageSize);
  if (config.augment !== undefined) {
    try {
      parseAugment(config.augment, { size: config.imageSize ?? 32 });
    } catch (error) {
      throw new ConfigError("augment", `is not valid: ${(error as Error).message}`);
    }
  }
  if (config.valSplit !== undefined && !(config.valSplit > 0 && config.valSplit < 1)) {
    throw new ConfigError("valSplit", `must be a fraction in (0, 1), got ${config.valSplit}`);
  }
  if (!(Number.isFinite(config.lr) && config.lr > 0)) {
    throw new ConfigError("lr", `must be positive, got ${config.lr}`);
  }
  if (!(config.momentum >= 0 && config.momentum < 1)) {
    throw new ConfigError("momentum", `must be in [0, 1), got ${config.momentum}`);
  }
  if (!(Number.isFinite(config.weightDecay) && config.weightDecay >= 0)) {
    throw new ConfigError("weightDecay", `must be non-negative, got ${config.weightDecay}`);
  }
  const optimizer = config.optimizer ?? "sgd";
  if (!OPTIMIZER_NAMES.includes(optimizer)) {
    throw new ConfigError("optimizer", `must be one of ${OPTIMIZER_NAMES.join(", ")}; got ${optimizer}`);
  }
  if (optimizer === "sgd") {
    if (config.nesterov && config.momentum === 0) {
      throw new ConfigError("nesterov", "needs a momentum above 0");
    }
    if (config.betas !== undefined) throw new ConfigError("betas", "apply to adam and adamw only, not sgd");
    if (config.eps !== undefined) throw new ConfigError("eps", "applies to adam and adamw only, not sgd");
  } else if (config.nesterov) {
    throw new ConfigError("nesterov", `is SGD's momentum and does not apply to ${optimizer}`);
  }
  if (
    config.betas !== undefined &&
    !(config.betas.length === 2 && config.betas.every((beta) => beta >= 0 && beta < 1))
  ) {
    throw new ConfigError("betas", `must be two numbers in [0, 1), got ${config.betas.join(", ")}`);
  }
  if (config.eps !== undefined && !(Number.isFinite(config.eps) && config.eps > 0)) {
    throw new ConfigError("eps", `must be positive, got ${config.eps}`);
  }
  if (!SCHEDULE_NAMES.includes(config.schedule)) {
    throw new ConfigError("schedule", `must be one of ${SCHEDULE_NAMES.join(", ")}; got ${config.schedule}`);
  }
  if (!(Number.isInteger(config.warmup) && config.warmup >= 0 && config.warmup < config.epochs)) {
    throw new ConfigError(
      "warmup",
      `must be a whole number of epochs below epochs (${config.epochs}), got ${config.warmup}`,
    );
  }
  if (config.warmup > 0 && config.schedule === "onecycle") {
    throw new ConfigError(
      "warmup",
      "cannot be combined with the onecycle schedule, which warms up by itself",
    );
  }
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 1)) {
    throw new ConfigError("labelSmoothing", `must be in [0, 1), got ${config.labelSmoothing}`);
  }
  if (!(Number.isSafeInteger(config.seed) && config.seed >= 0)) {
    throw new ConfigError("seed", `must be a non-negative integer, got ${config.seed}`);
  }
  if (config.ema !== undefined && !(config.ema > 0 && config.ema < 1)) {
    throw new ConfigError("ema", `must be a decay in (0, 1), e.g. 0.999, got ${config.ema}`);
  }
  if (config.pretrained === "imagenet" && MODELS[config.model].family === "cifar") {
    throw new ConfigError(
      "pretrained",
      `imagenet weights exist for the ImageNet models only (torchvision's), not ${config.model}`,
    );
  }
  if (config.pretrained === "imagenet" && config.stem !== "imagenet") {
    throw new ConfigError(
      "stem",
      "must be imagenet with --pretrained imagenet (the weights are for its 7x7 stem)",
    );
  }
  return config;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The learning rate at each optimizer step of a run with `stepsPerEpoch` steps per epoch: the warm-up
 * (linear from `lr / 10` over `warmup` epochs), then the schedule over the remaining steps.
 *
 * @example
 * ```ts
 * import { learningRate, resolveConfig } from "@denogpu/resnet/train";
 * const lr = learningRate(resolveConfig(), 390);
 * console.log(lr(0), lr(82 * 390)); // 0.1 0.01
 * ```
 */
export function learningRate(config: RunConfig, stepsPerEpoch: number): Schedule {
  const total = config.epochs * stepsPerEpoch;
  const warmupSteps = config.warmup * stepsPerEpoch;
  const steps = total - warmupSteps;
  let main: Schedule;
  switch (config.schedule) {
    case "multistep": {
      // He et al.'s 32k and 48k of 64k iterations, counted from the end of the warm-up.
      const milestones = [0.5, 0.75].map((f) =>
        Math.round(f * (config.epochs - config.warmup)) * stepsPerEpoch
      );
      main = multiStepLr(config.lr, { milestones });
      break;
    }
    case "cosine":
      main = cosineAnnealingLr(config.lr, { tMax: steps });
      break;
    case "onecycle":
      main = oneCycleLr(config.lr, { totalSteps: steps });
      break;
    case "constant":
      main = () => config.lr;
      break;
  }
  if (warmupSteps === 0) return main;
  return sequentialLr([linearLr(config.lr, { startFactor: 0.1, totalIters: warmupSteps }), main], [
    warmupSteps,
  ]);
}
