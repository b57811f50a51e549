/**
 * Checkpoints of a training run, in its output folder:
 *
 * - `last.safetensors`: the model's `state_dict` with torchvision's keys and nothing else, so that
 *   `model.load_state_dict(safetensors.torch.load_file(...))` works in PyTorch; its `__metadata__` says
 *   which model, classes, normalisation and input size it is for (what `eval` and `predict` need);
 * - `last.optimizer.safetensors`: the optimizer's state dict ({@linkcode TrainingStep.optimizerState}), kept
 *   apart so torch-style loaders never see it: SGD's momentum buffer under its parameter's name (PyTorch's
 *   `optimizer.state[p]["momentum_buffer"]`), Adam's state tensors under `<name>.<key>` (`exp_avg`,
 *   `exp_avg_sq`, `max_exp_avg_sq`; `step` is the file's step), the optimizer's kind and `param_groups` as
 *   JSON in the metadata, so that
 *   `{"state": {id: {"momentum_buffer": tensors[name]}}, "param_groups": groups}` rebuilds PyTorch's;
 * - `last.json`: the sidecar: the run's config, where the run stands (epoch, batch and optimizer step,
 *   which is also the schedule's position), the seed (the data order and every augmentation are functions
 *   of seed, epoch and batch, so it is the whole RNG state), the metrics so far and the best epoch;
 * - `last.ema.safetensors`, with a weight EMA (`ema` in the config): the averaged model's `state_dict`, as
 *   loadable as the weights, its metadata adding the decay and torch's `n_averaged`;
 * - `best.safetensors` and `best.json`: the same for the epoch with the best test accuracy (and
 *   `best.ema.safetensors`: the average at that epoch).
 *
 * A checkpoint's files are written as one change (`writeFilesAtomicAsync`): all of them under temporary
 * names first, then the renames, journalled in `<name>.commit.json` so that {@linkcode recoverRunFolder}
 * completes them after a crash. The weights' and the optimizer file's metadata repeat the step, so that
 * files from two different saves are refused instead of silently mixed.
 *
 * @module
 */

import { join } from "node:path";
import { finishAtomicWrites, removeStaleTemporaries, writeFilesAtomicAsync } from "../io/atomic.ts";
import { encodeSafetensors, loadSafetensors } from "../io/safetensors.ts";
import type { StateDict, TensorData } from "../io/state_dict.ts";
import type { OptimizerStateDict } from "../optim/optimizer.ts";
import { CIFAR_LAYOUTS } from "../data/cifar_layout.ts";
import { IMAGENET_NORMALISATION } from "../data/transforms.ts";
import type { ResNet, Stem } from "../models/resnet.ts";
import { buildModel, INPUT_SIZE, isModelName, type ModelName, modelStem } from "../models/table.ts";
import { readStateDict } from "./pretrained.ts";
import type { RunConfig } from "./run_config.ts";
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
  /** With a weight EMA: the averaged model's test loss. */
  emaTestLoss?: number;
  /** With a weight EMA: the averaged model's test top-1 accuracy in [0, 1]. */
  emaTestAccuracy?: number;
  /** With a weight EMA: the averaged model's test top-5 accuracy in [0, 1]. */
  emaTestTop5?: number;
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
  /** The GPU's float32 sums since the last read (`TrainingStep.accumulatedStats`), continued on resume. */
  pending?: number[];
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
  /** The training set's size and `datasetFingerprint`, so that a resumed run refuses other data. */
  data?: { count: number; fingerprint: string };
}

/**
 * The files of checkpoint `name` (`"last"` or `"best"`) in `dir`.
 *
 * @example
 * ```ts
 * import { checkpointPaths } from "@denogpu/resnet/train";
 * const { weights, optimizer, ema, state } = checkpointPaths("runs/cifar10", "best");
 * // "runs/cifar10/best.safetensors", "runs/cifar10/best.optimizer.safetensors",
 * // "runs/cifar10/best.ema.safetensors", "runs/cifar10/best.json"
 * ```
 */
export function checkpointPaths(
  dir: string,
  name: "last" | "best",
): { weights: string; optimizer: string; ema: string; state: string; journal: string } {
  return {
    weights: join(dir, `${name}.safetensors`),
    optimizer: join(dir, `${name}.optimizer.safetensors`),
    ema: join(dir, `${name}.ema.safetensors`),
    journal: join(dir, `${name}.commit.json`),
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

/**
 * The model info of a weights file's metadata, when it has one (files this module wrote do).
 *
 * @example
 * ```ts
 * import { modelInfoOf } from "@denogpu/resnet/train";
 * const info = modelInfoOf({ model: "resnet20", classes: '["cat", "dog"]' });
 * console.log(info?.classes, info?.stem); // ["cat", "dog"] "imagenet"
 * console.log(modelInfoOf({ format: "pt" })); // undefined: not written by this module
 * ```
 *
 * @throws {SyntaxError} When one of the JSON-valued keys (`classes`, `mean`, `std`, `input_shape`) is not
 * valid JSON.
 */
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

/** The loose shape of either optimizer's state dict, for code that handles both. */
type AnyStateDict = {
  state: Record<number, Record<string, unknown>>;
  param_groups: Array<{ params: number[]; param_names?: string[]; betas?: unknown }>;
};

/** The state keys of a saved group's parameters: Adam's (told apart by its `betas`) or SGD's. */
const stateKeysOf = (group: { betas?: unknown }) =>
  group.betas !== undefined ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["momentum_buffer"];

/** Where a parameter's state tensor is kept in the file: SGD's momentum under the name alone, as it was. */
const fileKey = (name: string, key: string) => key === "momentum_buffer" ? name : `${name}.${key}`;

/** The state tensors of an optimizer state, by {@linkcode fileKey}; `step` goes in the metadata instead. */
function tensorsByName(optimizer: OptimizerStateDict): StateDict {
  const dict = optimizer as unknown as AnyStateDict;
  const tensors: StateDict = new Map();
  for (const group of dict.param_groups) {
    group.params.forEach((id, k) => {
      for (const key of stateKeysOf(group)) {
        const tensor = dict.state[id]?.[key] as TensorData | undefined;
        if (tensor) tensors.set(fileKey(group.param_names![k], key), tensor);
      }
    });
  }
  return tensors;
}

/** The optimizer state that state tensors by {@linkcode fileKey} and the groups that list them make. */
function stateByName(tensors: StateDict, groups: AnyStateDict["param_groups"]): OptimizerStateDict {
  const optimizer: AnyStateDict = { state: {}, param_groups: groups };
  for (const group of groups) {
    group.params.forEach((id, k) => {
      for (const key of stateKeysOf(group)) {
        const tensor = tensors.get(fileKey(group.param_names![k], key));
        if (tensor) (optimizer.state[id] ??= {})[key] = tensor;
      }
    });
  }
  return optimizer as unknown as OptimizerStateDict;
}

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Also save the same state as `best` (the epoch improved on the best test accuracy). */
  best?: boolean;
  /** Other files of the run (e.g. `metrics.jsonl`, the report) to change together with the checkpoint. */
  files?: ReadonlyArray<readonly [path: string, content: Uint8Array | string]>;
}

/**
 * Saves checkpoint `name` of a training run: the weights (read back from the GPU), for `"last"` the
 * optimizer state, the weight average if any, then the sidecar; with `best`, the same as `best` too, and
 * `files` besides, all as one change (see the module documentation). One readback for the weights and one
 * per optimizer state buffer.
 *
 * @example
 * ```ts ignore
 * await saveCheckpoint("runs/cifar10", "last", training, state, { best: true });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  name: "last" | "best",
  training: TrainingStep,
  state: TrainingState,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await training.model.download();
  const weights = encodeSafetensors(training.model.model.stateDict(), {
    metadata: weightsMetadata(state.info, state.step),
  });
  const averaged = training.ema && training.averagedModel
    ? encodeSafetensors(await training.averagedModel.readStateDict(), {
      metadata: {
        ...weightsMetadata(state.info, state.step),
        ema_decay: String(training.ema.decay),
        n_averaged: String(training.ema.updates),
      },
    })
    : undefined;
  const sidecar = JSON.stringify(state, null, 1) + "\n";
  const files: Array<readonly [string, Uint8Array | string]> = [];
  for (const saved of options.best && name === "last" ? ["last", "best"] as const : [name]) {
    const paths = checkpointPaths(dir, saved);
    files.push([paths.weights, weights]);
    if (saved === "last") files.push([paths.optimizer, await optimizerFile(training, state.step)]);
    if (averaged) files.push([paths.ema, averaged]);
    files.push([paths.state, sidecar]);
  }
  files.push(...options.files ?? []);
  await writeFilesAtomicAsync(files, checkpointPaths(dir, name).journal);
}

/** The optimizer state file of a checkpoint at `step`. */
async function optimizerFile(training: TrainingStep, step: number): Promise<Uint8Array> {
  const optimizer = await training.optimizerState();
  const kind = training.optimizer.kind;
  return encodeSafetensors(tensorsByName(optimizer), {
    metadata: {
      step: String(step),
      optimizer: kind,
      ...(kind === "sgd" ? { momentum_buffers: "torch.optim.SGD state[p]['momentum_buffer']" } : {
        state: `torch.optim.${kind === "adam" ? "Adam" : "AdamW"} state[p][key] under '<name>.<key>'`,
      }),
      param_groups: JSON.stringify(optimizer.param_groups),
    },
  });
}

/**
 * Reads the sidecar of checkpoint `name` in `dir`; throws a clear error when there is none or it is not
 * one this module wrote.
 *
 * @example
 * ```ts
 * import { loadTrainingState } from "@denogpu/resnet/train";
 * const state = await loadTrainingState("runs/cifar10"); // runs/cifar10/last.json
 * console.log(state.position, state.best); // where the run stands, its best epoch
 * ```
 *
 * @throws {Error} When the sidecar is missing or unreadable, is not JSON, or is not of
 * {@linkcode CHECKPOINT_FORMAT}.
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
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * import { loadCheckpointWeights, loadTrainingState } from "@denogpu/resnet/train";
 * const state = await loadTrainingState("runs/cifar10");
 * resnet20().loadStateDict(await loadCheckpointWeights("runs/cifar10", state));
 * ```
 *
 * @throws {Error} When the weights file is from another step than the sidecar (a save that was cut short),
 * or it is missing or not a valid safetensors file.
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
 * Writes the saved optimizer state into a freshly compiled training step and sets its step count, so the
 * next step continues exactly where the saved run stopped.
 *
 * @example
 * ```ts
 * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
 * import { loadTrainingState, restoreOptimizer } from "@denogpu/resnet/train";
 * const state = await loadTrainingState("runs/cifar10");
 * const { batchSize, lr, momentum } = state.config;
 * const training = await TrainingStep.compile(await Gpu.create(), resnet20(), {
 *   batchSize,
 *   optimizer: { lr, momentum },
 * });
 * await restoreOptimizer("runs/cifar10", training, state);
 * ```
 *
 * @throws {Error} When the optimizer file is from another save than the sidecar, or its state does not fit
 * the training step (another model, freeze setting or optimizer settings).
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
  // Files written before the groups were saved list the same parameters as the step they resume.
  if (metadata.optimizer && metadata.optimizer !== training.optimizer.kind) {
    throw new Error(
      `${path} holds the state of ${metadata.optimizer}, but the training step runs ${training.optimizer.kind}`,
    );
  }
  const groups: AnyStateDict["param_groups"] = metadata.param_groups
    ? JSON.parse(metadata.param_groups)
    : (await training.optimizerState()).param_groups;
  // Those files also hold zeros before the first step, where the optimizer keeps no state yet.
  const optimizer = stateByName(state.step > 0 ? tensors : new Map(), groups);
  try {
    training.loadOptimizerState(optimizer, { step: state.step });
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The weights file a path names: a `.safetensors`/`.pth` file itself, or in a run folder `best.safetensors`
 * (else `last.safetensors`).
 *
 * @example
 * ```ts
 * import { resolveWeightsPath } from "@denogpu/resnet/train";
 * const path = await resolveWeightsPath("runs/cifar10"); // "runs/cifar10/best.safetensors" once saved
 * ```
 *
 * @throws {Error} When `path` does not exist, or is a folder holding neither checkpoint.
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
  model: ResNet;
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
  const name = info?.model ?? options.model;
  if (!name) {
    throw new Error(`${weights} does not say which model it holds; name it (e.g. --model resnet18)`);
  }
  if (!isModelName(name)) throw new Error(`${weights} holds an unknown model "${name}"`);
  const head = dict.get("fc.weight");
  if (!head) throw new Error(`${weights} has no fc.weight: it is not a ResNet state dict`);
  const classes = info?.classes ?? Array.from({ length: head.shape[0] }, (_, i) => `class ${i}`);
  const stem = modelStem(name, (info?.stem ?? options.stem) as Stem | undefined);
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
      mean: [...(imagenet ? IMAGENET_NORMALISATION : CIFAR_LAYOUTS.cifar10).mean],
      std: [...(imagenet ? IMAGENET_NORMALISATION : CIFAR_LAYOUTS.cifar10).std],
      inputShape: [3, INPUT_SIZE[stem], INPUT_SIZE[stem]],
    },
  };
}

/** The config in the sidecar beside `<dir>/<name>.safetensors`, if there is one. */
async function sidecarConfig(weights: string): Promise<RunConfig | undefined> {
  const sidecar = weights.replace(/(\.ema)?\.safetensors$/i, ".json");
  if (sidecar === weights) return undefined;
  try {
    return (JSON.parse(await Deno.readTextFile(sidecar)) as TrainingState).config;
  } catch {
    return undefined;
  }
}

/**
 * Writes the saved weight average (`last.ema.safetensors`) into a freshly compiled training step that keeps
 * one, and its count of updates, so that the average continues exactly.
 *
 * @example
 * ```ts ignore
 * await restoreEma("runs/cifar10", training, state); // after restoreOptimizer
 * ```
 *
 * @throws {Error} When the file is missing, from another save than the sidecar, or not of this model.
 */
export async function restoreEma(dir: string, training: TrainingStep, state: TrainingState): Promise<void> {
  if (!training.ema || !training.averagedModel) return;
  const path = checkpointPaths(dir, "last").ema;
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.step !== String(state.step)) {
    throw new Error(
      `${path} is from step ${metadata.step}, its sidecar from step ${state.step}: the checkpoint is incomplete`,
    );
  }
  const updates = Number(metadata.n_averaged);
  if (!Number.isSafeInteger(updates) || updates < 0) {
    throw new Error(`${path}: n_averaged must be a count of updates, got ${metadata.n_averaged}`);
  }
  training.averagedModel.writeStateDict(tensors, path);
  training.ema.updates = updates;
}

/**
 * Puts a run folder that a crash (even SIGKILL) interrupted back in order: completes the renames of a
 * checkpoint being saved (see {@linkcode saveCheckpoint}) and removes the temporary files of writes that
 * never finished. Returns the names of what it changed. Training calls it before it reads or writes a run.
 *
 * @example
 * ```ts
 * import { recoverRunFolder } from "@denogpu/resnet/train";
 * console.log(await recoverRunFolder(await Deno.makeTempDir())); // []
 * ```
 */
export async function recoverRunFolder(dir: string): Promise<string[]> {
  const changed: string[] = [];
  for (const name of ["last", "best"] as const) {
    changed.push(...await finishAtomicWrites(checkpointPaths(dir, name).journal));
  }
  changed.push(...await removeStaleTemporaries(dir));
  return changed;
}
