/**
 * Checkpoints of a training run, in its output folder:
 *
 * - `last.safetensors`: the model's `state_dict` with torchvision's keys and nothing else, so that
 *   `model.load_state_dict(safetensors.torch.load_file(...))` works in PyTorch; its `__metadata__` says
 *   which model, classes, normalisation and input size it is for (what `eval` and `predict` need);
 * - `last.optimizer.safetensors`: SGD's momentum buffer of each trained parameter, under the parameter's
 *   name (PyTorch's `optimizer.state[p]["momentum_buffer"]`), kept apart so torch-style loaders never see it;
 * - `last.json`: the sidecar: the run's config, where the run stands (epoch, batch and optimizer step,
 *   which is also the schedule's position), the seed (the data order and every augmentation are functions
 *   of seed, epoch and batch, so it is the whole RNG state), the metrics so far and the best epoch;
 * - `best.safetensors` and `best.json`: the same for the epoch with the best test accuracy.
 *
 * Every file is written atomically; the sidecar last. The weights' and the optimizer file's metadata
 * repeat the step, so that files from two different saves (a crash between two renames) are refused
 * instead of silently mixed.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomicAsync } from "../io/atomic.ts";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.ts";
import type { StateDict } from "../io/state_dict.ts";
import { CIFAR_LAYOUTS } from "../data/cifar_layout.ts";
import type { CifarResNet, ResNet } from "../models/resnet.ts";
import { readStateDict } from "./pretrained.ts";
import { buildModel, MODEL_NAMES, type ModelName, type RunConfig, type Stem } from "./run_config.ts";
import type { TrainingStep } from "../compile/training.ts";

/** Version of the sidecar's layout. */
export const CHECKPOINT_FORMAT = 1;

/** What a model file is for: enough to rebuild the model and feed it (kept in the weights' metadata). */
export interface ModelInfo {
  /** The model's name, e.g. `"resnet20"`. */
  model: string;
  /** The stem of resnet18..152. */
  stem: string;
  /** Class names, indexed by output. */
  classes: string[];
  /** Per-channel mean of the normalisation. */
  mean: number[];
  /** Per-channel standard deviation of the normalisation. */
  std: number[];
  /** Per-sample input shape `[channels, height, width]`. */
  inputShape: number[];
}

/** One epoch's line of `metrics.jsonl`. */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  /** Optimizer steps taken by its end. */
  step: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Mean training loss (with label smoothing, as optimised). */
  trainLoss: number;
  /** Training top-1 accuracy in [0, 1]. */
  trainAccuracy: number;
  /** Test loss (plain cross-entropy). */
  testLoss: number;
  /** Test top-1 accuracy in [0, 1]. */
  testAccuracy: number;
  /** Test top-5 accuracy in [0, 1]. */
  testTop5: number;
  /** Wall-clock seconds of training (evaluation excluded). */
  seconds: number;
  /** Training images per second. */
  imagesPerSecond: number;
}

/** Training statistics of an epoch in progress, summed so far. */
export interface PartialEpoch {
  /** Sum of per-sample losses. */
  lossSum: number;
  /** Correct top-1 predictions. */
  correct: number;
  /** Samples seen. */
  samples: number;
  /** Seconds of training so far. */
  seconds: number;
}

/** The sidecar: everything beyond the tensors that a run needs to continue exactly. */
export interface TrainingState {
  /** {@linkcode CHECKPOINT_FORMAT}. */
  format: number;
  /** The run's config. */
  config: RunConfig;
  /** The model, classes and normalisation. */
  info: ModelInfo;
  /** The next batch to run: 0-based epoch and batch within it. */
  position: { epoch: number; batch: number };
  /** Optimizer steps taken; the learning-rate schedule's position. */
  step: number;
  /** The seed of initialisation, data order and augmentation. */
  seed: number;
  /** Training statistics of the epoch `position.epoch` so far, when saved in its middle. */
  partial?: PartialEpoch;
  /** Metrics of every finished epoch. */
  history: EpochMetrics[];
  /** The finished epoch with the best test accuracy. */
  best?: { epoch: number; testAccuracy: number };
}

/** The files of checkpoint `name` (`"last"` or `"best"`) in `dir`. */
export function checkpointPaths(
  dir: string,
  name: "last" | "best",
): { weights: string; optimizer: string; state: string } {
  return {
    weights: join(dir, `${name}.safetensors`),
    optimizer: join(dir, `${name}.optimizer.safetensors`),
    state: join(dir, `${name}.json`),
  };
}

/** The metadata the weights file carries: the model info as JSON strings, and the step. */
function weightsMetadata(info: ModelInfo, step: number): Record<string, string> {
  return {
    format: "pt",
    model: info.model,
    stem: info.stem,
    classes: JSON.stringify(info.classes),
    mean: JSON.stringify(info.mean),
    std: JSON.stringify(info.std),
    input_shape: JSON.stringify(info.inputShape),
    step: String(step),
  };
}

/** The model info of a weights file's metadata, when it has one (files this module wrote do). */
export function modelInfoOf(metadata: Record<string, string>): ModelInfo | undefined {
  if (!metadata.model || !metadata.classes) return undefined;
  const parse = <T>(key: string, fallback: T): T => metadata[key] ? JSON.parse(metadata[key]) as T : fallback;
  return {
    model: metadata.model,
    stem: metadata.stem ?? "imagenet",
    classes: parse("classes", []),
    mean: parse("mean", []),
    std: parse("std", []),
    inputShape: parse("input_shape", []),
  };
}

/** The trained parameters of a step with their offsets (in floats) in the flat buffers. */
function trainedRanges(
  training: TrainingStep,
): Array<{ name: string; offset: number; size: number; shape: number[] }> {
  const gpuModel = training.model;
  return gpuModel.groups.flatMap((group) =>
    group.members.map((p) => ({
      name: p.name,
      offset: gpuModel.view(p).offset / 4,
      size: p.size,
      shape: [...p.shape],
    }))
  );
}

/**
 * Saves checkpoint `name` of a training run: the weights (read back from the GPU), for `"last"` the
 * optimizer state, then the sidecar. One readback each for the weights and the momentum.
 *
 * @example
 * ```ts ignore
 * await saveCheckpoint("runs/cifar10", "last", training, state);
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  name: "last" | "best",
  training: TrainingStep,
  state: TrainingState,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const paths = checkpointPaths(dir, name);
  await training.model.download();
  await saveSafetensors(paths.weights, training.model.model.stateDict(), {
    metadata: weightsMetadata(state.info, state.step),
  });
  if (name === "last") {
    const momentum = await training.model.gpu.readFloats(training.momentum);
    const tensors: StateDict = new Map();
    for (const { name: parameter, offset, size, shape } of trainedRanges(training)) {
      tensors.set(parameter, { shape, dtype: "F32", data: momentum.slice(offset, offset + size) });
    }
    await saveSafetensors(paths.optimizer, tensors, {
      metadata: { step: String(state.step), momentum_buffers: "torch.optim.SGD state[p]['momentum_buffer']" },
    });
  }
  await writeFileAtomicAsync(paths.state, JSON.stringify(state, null, 1) + "\n");
}

/**
 * Reads the sidecar of checkpoint `name` in `dir`; throws a clear error when there is none or it is not
 * one this module wrote.
 */
export async function loadTrainingState(dir: string, name: "last" | "best" = "last"): Promise<TrainingState> {
  const path = checkpointPaths(dir, name).state;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${dir} holds no checkpoint to resume (${path} is missing)`);
    }
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let state: TrainingState;
  try {
    state = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (state?.format !== CHECKPOINT_FORMAT || !state.config || !state.position) {
    throw new Error(`${path}: not a checkpoint sidecar of format ${CHECKPOINT_FORMAT}`);
  }
  return state;
}

/**
 * Reads the weights of checkpoint `name` in `dir`, checking that they belong to the sidecar's save.
 */
export async function loadCheckpointWeights(
  dir: string,
  state: TrainingState,
  name: "last" | "best" = "last",
): Promise<StateDict> {
  const path = checkpointPaths(dir, name).weights;
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.step !== String(state.step)) {
    throw new Error(
      `${path} is from step ${metadata.step}, its sidecar from step ${state.step}: the checkpoint is incomplete ` +
        `(the run was stopped while saving); its files do not belong together`,
    );
  }
  return tensors;
}

/**
 * Writes the saved momentum buffers into a freshly compiled training step and sets its step count, so the
 * next step continues exactly where the saved run stopped.
 */
export async function restoreOptimizer(
  dir: string,
  training: TrainingStep,
  state: TrainingState,
): Promise<void> {
  const path = checkpointPaths(dir, "last").optimizer;
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.step !== String(state.step)) {
    throw new Error(
      `${path} is from step ${metadata.step}, its sidecar from step ${state.step}: the checkpoint is incomplete`,
    );
  }
  const buffer = training.momentum;
  const host = new Float32Array(buffer.size / 4);
  for (const { name, offset, shape } of trainedRanges(training)) {
    const saved = tensors.get(name);
    if (!saved || saved.shape.join(",") !== shape.join(",")) {
      throw new Error(
        `${path}: no momentum buffer of shape [${
          shape.join(", ")
        }] for ${name}; it is from another model or freeze setting`,
      );
    }
    host.set(saved.data as Float32Array, offset);
  }
  training.model.gpu.write(buffer, host);
  training.optimizer.stepCount = state.step;
}

/**
 * The weights file a path names: a `.safetensors`/`.pth` file itself, or in a run folder `best.safetensors`
 * (else `last.safetensors`).
 */
export async function resolveWeightsPath(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new Error(`checkpoint ${path} does not exist`, { cause: error });
  }
  if (info.isFile) return path;
  for (const name of ["best", "last"] as const) {
    const weights = checkpointPaths(path, name).weights;
    try {
      await Deno.stat(weights);
      return weights;
    } catch {
      // Try the next one.
    }
  }
  throw new Error(`${path} holds neither best.safetensors nor last.safetensors`);
}

/** A model rebuilt from a weights file, ready for evaluation or prediction. */
export interface OpenedCheckpoint {
  /** The weights file read. */
  path: string;
  /** The model with the file's weights. */
  model: ResNet | CifarResNet;
  /** What the model is for (from the file's metadata, or from the caller's `model` and the head's size). */
  info: ModelInfo;
  /** The run's config, when the file sits beside its sidecar. */
  config?: RunConfig;
}

/**
 * Opens a checkpoint for `eval` and `predict`: a run folder (its `best`, else `last`, weights), a
 * `.safetensors` file written here (its metadata names the model, classes and normalisation) or any
 * `.pth`/`.safetensors` state dict, for which `model` (and `stem`) must be given. Throws when the file
 * holds another model than `model` names, listing the mismatching keys where there is no metadata.
 *
 * @example
 * ```ts ignore
 * const { model, info } = await openCheckpoint("runs/resnet20-cifar10");
 * ```
 */
export async function openCheckpoint(
  path: string,
  options: { model?: ModelName; stem?: Stem } = {},
): Promise<OpenedCheckpoint> {
  const weights = await resolveWeightsPath(path);
  let dict: StateDict;
  let info: ModelInfo | undefined;
  if (/\.safetensors$/i.test(weights)) {
    const file = await loadSafetensors(weights);
    dict = file.tensors;
    info = modelInfoOf(file.metadata);
  } else dict = await readStateDict(weights);
  if (info && options.model && info.model !== options.model) {
    throw new Error(`${weights} holds a ${info.model}, not a ${options.model}`);
  }
  const name = (info?.model ?? options.model) as ModelName | undefined;
  if (!name) {
    throw new Error(`${weights} does not say which model it holds; name it (e.g. --model resnet18)`);
  }
  if (!MODEL_NAMES.includes(name)) throw new Error(`${weights} holds an unknown model "${name}"`);
  const head = dict.get("fc.weight");
  if (!head) throw new Error(`${weights} has no fc.weight: it is not a ResNet state dict`);
  const classes = info?.classes ?? Array.from({ length: head.shape[0] }, (_, i) => `class ${i}`);
  const stem = (info?.stem ?? options.stem ?? "imagenet") as Stem;
  const model = buildModel(name, { numClasses: classes.length, stem });
  model.loadStateDict(dict, { source: weights });
  const imagenet = stem === "imagenet" && !info;
  const config = await sidecarConfig(weights);
  return {
    path: weights,
    model,
    config,
    info: info ?? {
      model: name,
      stem,
      classes,
      mean: imagenet ? [0.485, 0.456, 0.406] : [...CIFAR_LAYOUTS.cifar10.mean],
      std: imagenet ? [0.229, 0.224, 0.225] : [...CIFAR_LAYOUTS.cifar10.std],
      inputShape: imagenet ? [3, 224, 224] : [3, 32, 32],
    },
  };
}

/** The config in the sidecar beside `<dir>/<name>.safetensors`, if there is one. */
async function sidecarConfig(weights: string): Promise<RunConfig | undefined> {
  const sidecar = weights.replace(/\.safetensors$/i, ".json");
  if (sidecar === weights) return undefined;
  try {
    return (JSON.parse(await Deno.readTextFile(sidecar)) as TrainingState).config;
  } catch {
    return undefined;
  }
}
