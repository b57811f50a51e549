/**
 * `train`: flags to a {@linkcode RunConfig}, then {@linkcode fit} with Ctrl-C as a clean stop.
 *
 * @module
 */

import { join } from "node:path";
import { defaultCacheDir } from "../src/io/cache.ts";
import { exists } from "../src/io/_fs.ts";
import { MODEL_NAMES, modelNamesOf } from "../src/models/table.ts";
import { checkpointPaths, loadTrainingState, recoverRunFolder } from "../src/train/checkpoint.ts";
import { fit, type FitResult, stopOnInterrupt } from "../src/train/fit.ts";
import {
  ConfigError,
  DEFAULT_CONFIG as d,
  OPTIMIZER_NAMES,
  resolveConfig,
  type RunConfig,
  SCHEDULE_NAMES,
} from "../src/train/run_config.ts";
import { tuneConvolutionsCached, tuningFile } from "../src/train/tuning.ts";
import {
  boolean,
  choice,
  type Command,
  createGpu,
  decimal,
  type Flags,
  helpText,
  humanOutput,
  integer,
  loadData,
  string,
  UsageError,
} from "./_flags.ts";

const TRAIN_HELP = `Train a ResNet on CIFAR-10/100, an image folder or the built-in synthetic shapes.

Usage: deno run -A cli.ts train [flags]

The default recipe is He et al., "Deep Residual Learning for Image Recognition" (2016), section 4.2:
ResNet-20, SGD (momentum 0.9, weight decay 1e-4), batch 128, learning rate 0.1 divided by 10 at 50%
and 75% of 164 epochs, random crops of the 4-pixel padded image and horizontal flips. Table 6 of the
paper reports 91.25% test accuracy for it on CIFAR-10 (ResNet-32/44/56/110: 92.49/92.83/93.03/93.39%).

Data:
  --data PATH            the CIFAR archive or folder (default: the cache folder, downloading if absent),
                         an image folder (PATH/<class>/<image>, or PATH/train and PATH/val), or
                         "synthetic" for built-in shapes (10 classes, no download); a resumed run reads
                         the data it was started with
  --image-size N         the model's input side (default 224 for an image folder, else 32): an image
                         folder's training images are kept at N*256/224 (from 64 up; N below) and its
                         validation images resized (shorter side N*256/224) and centre-cropped to N, once;
                         CIFAR's are resized on the GPU (e.g. 224 for ImageNet weights)
  --augment SPEC         training augmentation, comma-separated: crop[:P] (RandomCrop, padding P: 4 for
                         images of the input size, else 0), randomresizedcrop, flip, cutout[:N], or none
                         (default crop,flip for images of the input size, else randomresizedcrop,flip)
  --val-split X          an image folder without train/ and val/: the fraction of each class held out
                         for validation (default 0.1, seeded, stratified)
  --strict               refuse the first image that cannot be decoded (default: skip, and list them)
  --dataset NAME         cifar10 | cifar100 (default ${d.dataset})
  --no-download          fail instead of downloading when the data is not there
  --limit N              use only the first N images of each split (a quick run)
Model:
  --model NAME           ${
  helpText(
    `${modelNamesOf("imagenet").join(", ")} (torchvision's) or ${
      modelNamesOf("cifar").join(", ")
    } (He et al.'s CIFAR ResNets); default ${d.model}`,
  )
}
  --stem STEM            imagenet | cifar: resnet18..152's stem (default cifar; imagenet with --pretrained
                         or images of 64 pixels and more)
Recipe:
  --epochs N             (default ${d.epochs})
  --batch-size N         (default ${d.batchSize})
  --optimizer NAME       sgd (the default), adam or adamw, as torch.optim's SGD, Adam and AdamW
  --lr X                 peak learning rate (default ${d.lr})
  --momentum X           SGD's momentum (default ${d.momentum})
  --weight-decay X       an L2 penalty added to the gradient with sgd and adam (default ${d.weightDecay}),
                         decoupled (w *= 1 - lr * X) with adamw (default 0.01, as torch's)
  --nesterov             Nesterov momentum (sgd only)
  --betas B1,B2          adam/adamw: decay rates of the moment averages (default 0.9,0.999)
  --eps X                adam/adamw: added to the denominator (default 1e-8)
  --schedule NAME        multistep (x0.1 at 50% and 75% of training; the default), cosine, onecycle or
                         constant
  --warmup N             epochs of linear warm-up from lr/10 (default ${d.warmup})
  --label-smoothing X    (default ${d.labelSmoothing})
  --seed N               initial weights, data order and augmentation (default ${d.seed})
  --ema DECAY            also keep an exponential moving average of the weights and BatchNorm statistics
                         (e.g. 0.999), updated every step, evaluated each epoch and saved as *.ema.safetensors
Transfer learning:
  --pretrained FILE      start from a .pth or .safetensors state dict, or "imagenet" for torchvision's
                         official weights of the model (downloaded once, cached, hash checked); the fc head
                         is replaced for the data set's classes (give --image-size 224 for CIFAR)
  --freeze WHAT          none | backbone (train only fc) | a module such as layer3 (frozen with all before it)
Output:
  --out DIR              the run folder (default runs/<model>-<dataset>, numbered when taken)
  --resume DIR           continue the run in DIR exactly where it stopped, with its saved settings
  --no-tune              skip the one-time convolution autotune (cached per adapter) and use the
                         default kernels of the adapter's class
  --tuning FILE          the convolution tuning in FILE (from any adapter), or measured and written there
                         when FILE does not exist, in place of the cached one; the run keeps the tuning it
                         started with in DIR/tuning.json, and --resume uses that
  --json                 print the result as JSON on stdout
  -h, --help             this help

Each epoch writes DIR/last.safetensors (torchvision keys) with its sidecar last.json and
last.optimizer.safetensors (and last.ema.safetensors with --ema), best.* by test accuracy, metrics.jsonl and
report.html. Ctrl-C finishes the
step, saves and tells how to resume; a second Ctrl-C quits at once.`;

/** Flags of `train` that set the recipe or the kernels, which `--resume` takes from the run folder instead. */
const RECIPE_FLAGS = [
  "dataset",
  "model",
  "stem",
  "epochs",
  "batch-size",
  "optimizer",
  "lr",
  "momentum",
  "weight-decay",
  "nesterov",
  "betas",
  "eps",
  "schedule",
  "warmup",
  "label-smoothing",
  "seed",
  "ema",
  "pretrained",
  "freeze",
  "limit",
  "image-size",
  "augment",
  "val-split",
  "out",
  "no-tune",
  "tuning",
];

/** `--betas B1,B2` as two numbers, if given. */
function betasOf(flags: Flags): [number, number] | undefined {
  const text = flags.betas as string | undefined;
  if (text === undefined) return undefined;
  const betas = text.split(",").map((part) => part.trim() === "" ? NaN : Number(part));
  if (betas.length !== 2 || !betas.every(Number.isFinite)) {
    throw new UsageError(`--betas must be two numbers separated by a comma, e.g. 0.9,0.999; got "${text}"`);
  }
  return [betas[0], betas[1]];
}

const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The run config the flags describe, with `--flag` named in any range error. */
function configFromFlags(flags: Flags): RunConfig {
  const pretrained = flags.pretrained as string | undefined;
  const model = choice(flags, "model", MODEL_NAMES);
  try {
    return resolveConfig({
      dataset: choice(flags, "dataset", ["cifar10", "cifar100"] as const),
      model,
      stem: choice(flags, "stem", ["imagenet", "cifar"] as const) ?? (pretrained ? "imagenet" : "cifar"),
      epochs: integer(flags, "epochs"),
      batchSize: integer(flags, "batch-size"),
      optimizer: choice(flags, "optimizer", OPTIMIZER_NAMES),
      lr: decimal(flags, "lr"),
      momentum: decimal(flags, "momentum"),
      weightDecay: decimal(flags, "weight-decay"),
      nesterov: flags.nesterov as boolean | undefined,
      betas: betasOf(flags),
      eps: decimal(flags, "eps"),
      schedule: choice(flags, "schedule", SCHEDULE_NAMES),
      warmup: integer(flags, "warmup", 0),
      labelSmoothing: decimal(flags, "label-smoothing"),
      seed: integer(flags, "seed", 0),
      ema: decimal(flags, "ema"),
      pretrained,
      data: flags.data as string | undefined,
      imageSize: integer(flags, "image-size"),
      augment: flags.augment as string | undefined,
      valSplit: decimal(flags, "val-split"),
      freeze: flags.freeze as string | undefined,
      limit: integer(flags, "limit"),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--${kebab(error.field)}: ${error.message}`);
    throw error;
  }
}

/** `runs/<model>-<data name>`, numbered `-2`, `-3`, ... when a run is already there. */
async function defaultOut(model: string, dataName: string): Promise<string> {
  const base = join("runs", `${model}-${dataName}`);
  for (let n = 1;; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (!await exists(checkpointPaths(dir, "last").state)) return dir;
  }
}

/** The run's config and folder: the saved ones with `--resume`, else the flags' (`out` unless chosen). */
async function runOf(flags: Flags): Promise<{ config: RunConfig; out?: string; resume: boolean }> {
  const resume = flags.resume as string | undefined;
  if (resume === undefined) {
    return { config: configFromFlags(flags), out: flags.out as string | undefined, resume: false };
  }
  const clash = RECIPE_FLAGS.find((name) => flags[name] !== undefined);
  if (clash) {
    throw new UsageError(
      `--${clash} cannot be combined with --resume: a resumed run keeps its saved settings`,
    );
  }
  await recoverRunFolder(resume);
  return { config: (await loadTrainingState(resume)).config, out: resume, resume: true };
}

/** Prints how the run ended: JSON with `--json`, else the message and what to do next. */
function report(result: FitResult, out: string, json: boolean): void {
  const log = humanOutput(json);
  const resumeCommand = `deno run -A cli.ts train --resume ${out}`;
  if (json) {
    console.log(JSON.stringify({
      status: result.status,
      message: result.message,
      out,
      step: result.step,
      epochs: result.history,
      best: result.best,
      checkpoint: checkpointPaths(out, "last").weights,
      bestCheckpoint: result.best ? checkpointPaths(out, "best").weights : undefined,
      metrics: join(out, "metrics.jsonl"),
      report: join(out, "report.html"),
      resume: result.status === "interrupted" ? resumeCommand : undefined,
    }));
  } else {
    log(result.message);
    if (result.status === "interrupted") log(`resume with: ${resumeCommand}`);
    else if (result.history.length) log(`report: ${join(out, "report.html")}`);
  }
}

/**
 * `train`: trains or fine-tunes a ResNet on CIFAR-10/100, or resumes a run; exits 0 when it completed,
 * 130 when interrupted (saved) and 1 when it diverged.
 *
 * @example
 * ```ts
 * import { main } from "@denogpu/resnet/cli";
 * await main(["train", "--model", "resnet20", "--epochs", "1", "--limit", "256", "--out", "/tmp/run"]);
 * ```
 */
export const train: Command = {
  help: TRAIN_HELP,
  options: {
    data: string,
    dataset: string,
    "no-download": boolean,
    "image-size": string,
    augment: string,
    "val-split": string,
    strict: boolean,
    limit: string,
    model: string,
    stem: string,
    epochs: string,
    "batch-size": string,
    optimizer: string,
    lr: string,
    momentum: string,
    "weight-decay": string,
    nesterov: boolean,
    betas: string,
    eps: string,
    schedule: string,
    warmup: string,
    "label-smoothing": string,
    seed: string,
    ema: string,
    pretrained: string,
    freeze: string,
    out: string,
    resume: string,
    "no-tune": boolean,
    tuning: string,
    json: boolean,
  },
  async run(flags) {
    const json = flags.json === true;
    const { config, resume, ...run } = await runOf(flags);
    const gpu = await createGpu(console.error);
    // A resumed run reads the data it saved, unless --data says where that data went.
    const data = await loadData(
      flags,
      {
        dataset: config.dataset,
        data: (flags.data as string | undefined) ?? config.data,
        imageSize: config.imageSize,
        valSplit: config.valSplit,
        strict: flags.strict === true,
      },
      console.error,
    );
    const out = run.out ?? await defaultOut(config.model, data.name);
    // After the data, so that a wrong --data is told at once rather than after the autotune.
    let tuning;
    if (resume) {
      console.error(`Convolution tuning: the run's own (${join(out, "tuning.json")})`);
    } else if (flags.tuning !== undefined) {
      console.error(`Convolution tuning: ${flags.tuning} (measured and written there if it does not exist)`);
      tuning = await tuningFile(gpu, flags.tuning as string);
    } else if (!flags["no-tune"]) {
      console.error("Tuning the convolution kernels for this adapter (once; cached)...");
      tuning = await tuneConvolutionsCached(gpu, defaultCacheDir());
    }
    // Inputs of 64 pixels and more get torchvision's ImageNet stem unless --stem says otherwise.
    const small = (config.imageSize ?? data.test.height) < 64;
    const stem = resume || flags.stem !== undefined || small ? config.stem : "imagenet";
    const interrupt = stopOnInterrupt((line) => console.error(line));
    let result;
    try {
      result = await fit(gpu, {
        out,
        config: { ...config, stem },
        data,
        resume,
        signal: interrupt.signal,
        log: humanOutput(json),
        tuning,
      });
    } finally {
      interrupt.dispose();
    }
    report(result, out, json);
    return result.status === "completed" ? 0 : result.status === "interrupted" ? 130 : 1;
  },
};
