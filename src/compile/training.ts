/**
 * The compiled training step: forward in train mode, softmax cross-entropy, backward and the optimizer
 * (SGD, Adam or AdamW), encoded into one command buffer per step. Buffers, pipelines and bind groups are
 * made once; per step only the batch (when the caller supplies it from the host) and the optimizer's
 * scalars of the step (learning rates, SGD's first-step flag, Adam's bias corrections) are written.
 * Loss and accuracy accumulate on the GPU until {@linkcode TrainingStep.readStats} reads them.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, encode, type Tensor } from "../gpu/kernel.ts";
import type { Graph } from "../nn/graph.ts";
import type { Module } from "../nn/module.ts";
import type { Parameter } from "../nn/parameter.ts";
import { Sgd, type SgdOptions } from "../optim/sgd.ts";
import { Adam, type AdamOptions } from "../optim/adam.ts";
import { WeightEma } from "../optim/ema.ts";
import type { Optimizer, OptimizerKind, OptimizerStateDict } from "../optim/optimizer.ts";
import { crossEntropy, PADDING_LABEL, STATS, STATS_LENGTH } from "../ops/cross_entropy.ts";
import { type ConvTuning, defaultConvTuning } from "../ops/conv2d.ts";
import { rewrite } from "./fuse.ts";
import { GpuModel } from "./gpu_model.ts";
import { checkBatchFits, checkBatchSize, Inference } from "./inference.ts";
import { checkNoSharedParameters, lowerBackward, lowerForward } from "./lower.ts";
import { StepPlanner } from "./memory.ts";
import { DivergenceError } from "./divergence.ts";
import { flatStateOf, keepsState, optimizerGroups, stateDictOf, stateKeysOf } from "./_optimizer_state.ts";

/**
 * Which optimizer a training step runs and its settings for every parameter not in one of its groups:
 * `torch.optim.SGD` (the default kind), `Adam`, or `AdamW` (Adam with decoupled weight decay, 0.01 unless
 * given), each defaulted as in torch.optim.
 *
 * @example
 * ```ts
 * import type { OptimizerOptions } from "@denogpu/resnet";
 * const sgd: OptimizerOptions = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
 * const adamw: OptimizerOptions = { kind: "adamw", lr: 1e-3, betas: [0.9, 0.999], weightDecay: 0.05 };
 * ```
 */
export type OptimizerOptions =
  | (SgdOptions & { kind?: "sgd" })
  | (Omit<AdamOptions, "decoupledWeightDecay"> & { kind: "adam" | "adamw" });

/** Optimizer settings for the parameters whose names `match` accepts (PyTorch's parameter groups). */
export interface ParameterGroup
  extends Partial<SgdOptions>, Partial<Omit<AdamOptions, "decoupledWeightDecay">> {
  /** Selects the group's parameters by `state_dict` name; a parameter joins the first group that matches. */
  match: (name: string) => boolean;
}

/** Options of {@linkcode TrainingStep.compile}. */
export interface TrainingOptions {
  /** Samples per step. */
  batchSize: number;
  /** Per-sample input shape, default `[3, 32, 32]`. */
  inputShape?: readonly number[];
  /**
   * The optimizer, with its settings for every parameter not in one of `groups`; a group's own settings
   * override them. Settings of another kind (e.g. `momentum` for Adam) are refused.
   */
  optimizer: OptimizerOptions & { groups?: ParameterGroup[] };
  /** PyTorch's `label_smoothing`, default 0. */
  labelSmoothing?: number;
  /** Clip gradients to this global 2-norm before each update (clip_grad_norm_). */
  maxGradNorm?: number;
  /** Read batches from a GPU data pipeline instead of {@linkcode TrainingStep.setBatch}. */
  input?: { images: Tensor; labels: Tensor; dispatches: readonly Dispatch[] };
  /**
   * How the convolution and linear kernels are tiled and which algorithm they take, e.g. the autotune's
   * `tuneConvolutionsCached(gpu, cacheDir)`.
   *
   * @default {defaultConvTuning(gpu)}
   */
  tuning?: ConvTuning;
  /**
   * Keep an exponential moving average of the weights after every step, as
   * `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)` with
   * `update_parameters` after each `optimizer.step()`: parameters and BatchNorm's running statistics are
   * averaged (`num_batches_tracked` is the model's). {@linkcode TrainingStep.averagedModel} holds it.
   */
  ema?: { decay: number };
}

/** Loss and accuracy accumulated since the last read. */
export interface TrainingStats {
  /** Mean cross-entropy per sample. */
  loss: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Top-5 accuracy in [0, 1]. */
  top5: number;
  /** Samples counted. */
  samples: number;
}

/**
 * One training step of a model, compiled.
 *
 * @example
 * ```ts
 * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * const model = resnet20();
 * const training = await TrainingStep.compile(gpu, model, {
 *   batchSize: 8,
 *   optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
 * });
 * training.setBatch(new Float32Array(8 * 3 * 32 * 32), new Uint32Array(8));
 * training.step();
 * console.log(await training.readStats()); // { loss, accuracy, top5, samples }
 * ```
 */
export class TrainingStep {
  /** Parameters, gradients and the model they mirror. */
  readonly model: GpuModel;
  /** The traced graph. */
  readonly graph: Graph;
  /** The optimizer; {@linkcode TrainingStep.optimizerState} reads its state as a value. */
  readonly optimizer: Optimizer;
  /** The weight average's update, with `ema`; its `updates` is torch's `n_averaged`. */
  readonly ema?: WeightEma;
  /** The averaged weights and statistics, with `ema`: the same layout as {@linkcode TrainingStep.model}. */
  readonly averagedModel?: GpuModel;
  /** Input images `[batch, ...inputShape]`. */
  readonly images: Tensor;
  /** Input labels `[batch]`, u32; {@linkcode PADDING_LABEL} marks padding. */
  readonly labels: Tensor;
  /** Everything a step runs, in order. */
  readonly dispatches: readonly Dispatch[];
  /** Bytes of activation storage the step's plan made. */
  readonly activationBytes: number;
  readonly #stats: GPUBuffer;
  readonly #baseLr: number;
  readonly #groupLrs: number[];
  readonly #batchNormCounters: Parameter[];

  private constructor(
    fields: {
      model: GpuModel;
      graph: Graph;
      optimizer: Optimizer;
      ema?: { model: GpuModel; update: WeightEma };
      images: Tensor;
      labels: Tensor;
      dispatches: Dispatch[];
      activationBytes: number;
      stats: GPUBuffer;
      groupLrs: number[];
    },
    options: TrainingOptions,
  ) {
    this.model = fields.model;
    this.graph = fields.graph;
    this.optimizer = fields.optimizer;
    this.ema = fields.ema?.update;
    this.averagedModel = fields.ema?.model;
    this.images = fields.images;
    this.labels = fields.labels;
    this.dispatches = fields.dispatches;
    this.activationBytes = fields.activationBytes;
    this.#stats = fields.stats;
    this.#groupLrs = fields.groupLrs;
    this.#baseLr = options.optimizer.lr;
    this.#batchNormCounters = fields.model.model.namedParameters().filter((p) => p.integer);
  }

  /** Uploads `model`, traces it, plans memory and makes every pipeline and bind group of the step. */
  static async compile(gpu: Gpu, model: Module, options: TrainingOptions): Promise<TrainingStep> {
    checkBatchSize(options.batchSize);
    const inputShape = options.inputShape ?? [3, 32, 32];
    const graph = traceLogits(model, inputShape);
    checkBatchFits(gpu, graph, options.batchSize);
    const { gpuModel, settings } = uploadByGroup(gpu, model, options.optimizer);
    const batch = options.batchSize;
    const images = options.input?.images ??
      {
        buffer: gpu.buffer("input images", batch * inputShape.reduce((a, b) => a * b, 1) * 4),
        offset: 0,
        shape: [batch, ...inputShape],
      };
    const labels = options.input?.labels ??
      { buffer: gpu.buffer("input labels", batch * 4), offset: 0, shape: [batch] };
    const stats = gpu.buffer("training statistics", STATS_LENGTH * 4);
    const built = await planStep(gpuModel, graph, { images, labels, stats }, options);

    const trained = gpuModel.groups.map((range, i) => ({
      ...settings[i],
      offset: range.offset,
      length: range.length,
    }))
      .filter((g) => g.length > 0);
    const kind = options.optimizer.kind ?? "sgd";
    const optimizer = await gpu.checked(
      `optimizer: ${kind}`,
      () => createOptimizer(gpuModel, kind, trained, options.maxGradNorm),
    );
    const ema = options.ema && averageOf(gpuModel, options.ema.decay);
    return new TrainingStep({
      model: gpuModel,
      graph,
      optimizer,
      ema,
      images,
      labels,
      dispatches: [
        ...(options.input?.dispatches ?? []),
        ...built.dispatches,
        ...optimizer.dispatches,
        ...(ema?.update.dispatches ?? []),
      ],
      activationBytes: built.bytes,
      stats,
      groupLrs: trained.map((g) => g.lr),
    }, options);
  }

  /** Uploads a batch from the host: NCHW images and integer labels (`[batch]`, at most the batch size). */
  setBatch(images: Float32Array, labels: ArrayLike<number>): void {
    const [batch, ...sample] = this.images.shape;
    const perImage = sample.reduce((a, b) => a * b, 1);
    if (labels.length > batch || labels.length < 1 || images.length !== labels.length * perImage) {
      throw new Error(
        `setBatch: expected 1 to ${batch} labels and ${perImage} floats per image, got ${labels.length} labels and ${images.length} floats`,
      );
    }
    const paddedImages = new Float32Array(batch * perImage);
    paddedImages.set(images);
    const paddedLabels = new Uint32Array(batch).fill(PADDING_LABEL);
    paddedLabels.set(Array.from(labels, (l) => l >>> 0));
    this.model.gpu.write(this.images.buffer, paddedImages, this.images.offset);
    this.model.gpu.write(this.labels.buffer, paddedLabels, this.labels.offset);
  }

  /**
   * Runs one step (one command buffer, no readback). `lr` sets this step's learning rate of the main
   * group; other groups scale by the same factor, as PyTorch's schedulers do. Defaults to the optimizer's lr.
   */
  step(lr: number = this.#baseLr): void {
    const gpu = this.model.gpu;
    gpu.throwIfFailed("training step");
    const factor = this.#baseLr === 0 ? 0 : lr / this.#baseLr;
    this.optimizer.prepareStep(this.#groupLrs.map((groupLr) => groupLr * factor));
    this.ema?.prepareUpdate();
    const encoder = gpu.device.createCommandEncoder({ label: "training step" });
    encode(encoder, this.dispatches);
    gpu.device.queue.submit([encoder.finish()]);
    for (const counter of this.#batchNormCounters) counter.data[0] += 1;
  }

  /**
   * Reads and resets the loss and accuracy accumulated since the last call (one readback).
   *
   * @throws {DivergenceError} When the loss became NaN or infinite.
   */
  async readStats(): Promise<TrainingStats> {
    const gpu = this.model.gpu;
    const values = await gpu.readFloats(this.#stats, 0, STATS_LENGTH);
    gpu.write(this.#stats, new Float32Array(STATS_LENGTH));
    const samples = values[STATS.samples];
    const loss = values[STATS.lossSum] / Math.max(1, samples);
    if (!Number.isFinite(loss)) {
      throw new DivergenceError(
        `training diverged: the loss became ${loss} at optimizer step ${this.optimizer.stepCount}; ` +
          "lower the learning rate or set maxGradNorm",
        { loss, step: this.optimizer.stepCount },
      );
    }
    return {
      loss,
      accuracy: values[STATS.top1] / Math.max(1, samples),
      top5: values[STATS.top5] / Math.max(1, samples),
      samples,
    };
  }

  /**
   * The loss and accuracy sums accumulated on the GPU since the last {@linkcode TrainingStep.readStats},
   * as they are (float32) and without resetting them (one readback): a checkpoint taken between two reads
   * saves these, and {@linkcode TrainingStep.loadAccumulatedStats} puts them back, so that a resumed run
   * continues the very same float32 sums.
   *
   * @example
   * ```ts
   * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
   * const training = await TrainingStep.compile(await Gpu.create(), resnet20(), {
   *   batchSize: 2,
   *   optimizer: { lr: 0.1 },
   * });
   * training.setBatch(new Float32Array(2 * 3 * 32 * 32), [0, 1]);
   * training.step();
   * const sums = await training.accumulatedStats();
   * training.loadAccumulatedStats(sums); // in another process, after loading the checkpoint
   * ```
   */
  async accumulatedStats(): Promise<number[]> {
    return [...await this.model.gpu.readFloats(this.#stats, 0, STATS_LENGTH)];
  }

  /**
   * Replaces the accumulated sums with ones {@linkcode TrainingStep.accumulatedStats} returned.
   *
   * @throws {RangeError} When `sums` does not hold one value per statistic.
   */
  loadAccumulatedStats(sums: readonly number[]): void {
    if (sums.length !== STATS_LENGTH) {
      throw new RangeError(`accumulated statistics need ${STATS_LENGTH} values, got ${sums.length}`);
    }
    this.model.gpu.write(this.#stats, new Float32Array(sums));
  }

  /**
   * The optimizer state as `torch.optim.SGD.state_dict()` (or `Adam`'s, `AdamW`'s) lays it out: ids number
   * the trained parameters across the groups in order, each group names its parameters (`param_names`), and
   * `state` holds each parameter's momentum buffer (Adam: `step`, `exp_avg`, `exp_avg_sq` and with amsgrad
   * `max_exp_avg_sq`) once a step has run (one readback per state buffer). A group's `lr` is the one it was
   * compiled with; the learning rate of each step is the schedule's, given to {@linkcode TrainingStep.step}.
   *
   * @example
   * ```ts
   * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
   * const training = await TrainingStep.compile(await Gpu.create(), resnet20(), {
   *   batchSize: 2,
   *   optimizer: { lr: 0.1, momentum: 0.9 },
   * });
   * training.setBatch(new Float32Array(2 * 3 * 32 * 32), [0, 1]);
   * training.step();
   * const state = await training.optimizerState();
   * console.log(state.param_groups[0].param_names?.[0]); // conv1.weight
   * ```
   */
  async optimizerState(): Promise<OptimizerStateDict> {
    const optimizer = this.optimizer;
    const groups = optimizerGroups(this.model, optimizer);
    if (optimizer.stepCount === 0 || !keepsState(optimizer)) return stateDictOf(optimizer, groups);
    const keys = stateKeysOf(optimizer);
    const read = keys.map((key) => this.model.gpu.readFloats(optimizer.stateBuffers[key]));
    const buffers = Object.fromEntries((await Promise.all(read)).map((data, i) => [keys[i], data]));
    return stateDictOf(optimizer, groups, buffers);
  }

  /**
   * Restores a state {@linkcode TrainingStep.optimizerState} returned (or PyTorch's, converted): the momentum
   * buffers (Adam's moments), and `step`, the optimizer steps it was taken after (by default the state's
   * own `step`, where it records one). Parameters pair up by position, as in
   * PyTorch's `load_state_dict`, and are checked by name where the state names them. The groups' `lr` is not
   * restored: each step's learning rate is given to {@linkcode TrainingStep.step}.
   *
   * @example
   * ```ts
   * import { Gpu, resnet20, TrainingStep } from "@denogpu/resnet";
   * const gpu = await Gpu.create();
   * const options = { batchSize: 2, optimizer: { lr: 0.1, momentum: 0.9 } };
   * const trained = await TrainingStep.compile(gpu, resnet20(), options);
   * trained.setBatch(new Float32Array(2 * 3 * 32 * 32), [0, 1]);
   * trained.step();
   * const resumed = await TrainingStep.compile(gpu, resnet20(), options);
   * resumed.loadOptimizerState(await trained.optimizerState(), { step: trained.optimizer.stepCount });
   * ```
   *
   * @throws {Error} When the state's groups, parameters or compiled hyperparameters (momentum, dampening,
   * weight decay, Nesterov; betas, eps, amsgrad) differ from this step's, or a state tensor has another
   * shape; the message names the parameter and the expected shape.
   * @throws {RangeError} When `step` is 0 but the state holds per-parameter state, positive but it holds
   * none although the optimizer keeps some, or other than the step the state records.
   */
  loadOptimizerState(state: OptimizerStateDict, options: { step?: number } = {}): void {
    const optimizer = this.optimizer;
    const groups = optimizerGroups(this.model, optimizer);
    const flat = flatStateOf(optimizer, groups, state, this.model.gradients.size / 4);
    // SGD starts its buffers afresh on its first step: without a recorded step, their presence says one ran.
    const step = options.step ?? flat.step ?? (flat.buffers ? 1 : 0);
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a count, got ${step}`);
    if (flat.step !== undefined && flat.step !== step) {
      throw new RangeError(`the state is from step ${flat.step}, but step ${step} was given`);
    }
    if (flat.buffers && step === 0) {
      throw new RangeError(
        "the state holds per-parameter optimizer state, so it is from after a step: step must be positive",
      );
    }
    if (!flat.buffers && step > 0 && keepsState(optimizer)) {
      throw new RangeError(
        `the state holds no ${
          stateKeysOf(optimizer).join(" or ")
        }, which step ${step} of ${optimizer.kind} has`,
      );
    }
    // Without saved state the buffers start at zero, as torch initialises Adam's moments.
    for (const key of stateKeysOf(optimizer)) {
      const buffer = optimizer.stateBuffers[key];
      this.model.gpu.write(buffer, flat.buffers?.[key] ?? new Float32Array(buffer.size / 4));
    }
    optimizer.stepCount = step;
  }

  /** An eval-mode forward pass over the same parameters (e.g. for the test set between epochs). */
  inference(batchSize: number, input?: Tensor): Promise<Inference> {
    return Inference.compile(this.model.gpu, this.model, {
      batchSize,
      inputShape: this.images.shape.slice(1),
      input,
    });
  }
}

/** Traces `model`, checking that it can be trained and that its output is logits `[classes]`. */
function traceLogits(model: Module, inputShape: readonly number[]): Graph {
  const graph = model.trace(inputShape);
  checkNoSharedParameters(graph);
  const output = graph.output;
  if (output.shape.length !== 1) {
    throw new Error(
      `${output.name}: the model's output must be logits [classes], got [${output.shape.join(", ")}]`,
    );
  }
  return graph;
}

/** Settings that apply to one kind of optimizer only. */
const SGD_ONLY = ["momentum", "dampening", "nesterov"] as const;
const ADAM_ONLY = ["betas", "eps", "amsgrad"] as const;

/** Throws when the optimizer or one of its groups sets an option of another kind of optimizer. */
function checkOptionsFit(optimizer: TrainingOptions["optimizer"]): void {
  const kind = optimizer.kind ?? "sgd";
  const foreign: readonly string[] = kind === "sgd" ? ADAM_ONLY : SGD_ONLY;
  const groups: Array<[string, object]> = [
    ["optimizer", optimizer],
    ...(optimizer.groups ?? []).map((g, i): [string, object] => [`optimizer group ${i}`, g]),
  ];
  for (const [where, options] of groups) {
    const key = foreign.find((k) => (options as Record<string, unknown>)[k] !== undefined);
    if (key !== undefined) throw new RangeError(`${where}: ${key} does not apply to ${kind}`);
  }
}

/** The optimizer of `kind` over the model's flat buffers, with the state buffers it needs. */
function createOptimizer(
  gpuModel: GpuModel,
  kind: OptimizerKind,
  groups: Array<Record<string, unknown> & { offset: number; length: number; lr: number }>,
  maxGradNorm: number | undefined,
): Optimizer {
  const { gpu, values: params, gradients: grads } = gpuModel;
  const state = (name: string) => gpu.buffer(name, grads.size);
  if (kind === "sgd") {
    return Sgd.create(gpu, { params, grads, momentum: state("momentum buffers") }, groups, { maxGradNorm });
  }
  const buffers = {
    params,
    grads,
    expAvg: state("adam: exp_avg"),
    expAvgSq: state("adam: exp_avg_sq"),
    ...(groups.some((g) => g.amsgrad) ? { maxExpAvgSq: state("adam: max_exp_avg_sq") } : {}),
  };
  const adamGroups = groups.map((g) =>
    kind === "adamw" ? { weightDecay: 0.01, ...g, decoupledWeightDecay: true } : g
  );
  return Adam.create(gpu, buffers, adamGroups, { maxGradNorm });
}

/** A copy of `gpuModel`'s weights and statistics, and the update that averages them after each step. */
function averageOf(gpuModel: GpuModel, decay: number): { model: GpuModel; update: WeightEma } {
  const model = gpuModel.mirror();
  const update = WeightEma.create(gpuModel.gpu, [
    { name: "parameters", averaged: model.values, current: gpuModel.values },
    { name: "buffers", averaged: model.buffers, current: gpuModel.buffers },
  ], { decay });
  return { model, update };
}

/**
 * Uploads `model` with each optimizer group's parameters contiguous (the groups in order, then the rest),
 * and the optimizer settings of each range: the group's own over the optimizer's.
 */
function uploadByGroup(gpu: Gpu, model: Module, optimizer: TrainingOptions["optimizer"]) {
  checkOptionsFit(optimizer);
  const groups = optimizer.groups ?? [];
  const groupOf = (p: Parameter) => {
    const index = groups.findIndex((g) => g.match(p.name));
    return index < 0 ? groups.length : index;
  };
  const gpuModel = GpuModel.create(gpu, model, groupOf, groups.length + 1);
  const settings = [...groups, {}].map((g) => ({
    ...optimizer,
    kind: undefined,
    groups: undefined,
    ...withoutUndefined(g),
    match: undefined,
  }));
  return { gpuModel, settings };
}

/** Plans forward in train mode, the loss and backward, and makes their dispatches. */
function planStep(
  gpuModel: GpuModel,
  graph: Graph,
  io: { images: Tensor; labels: Tensor; stats: GPUBuffer },
  options: TrainingOptions,
) {
  const gpu = gpuModel.gpu;
  const planner = new StepPlanner(gpu);
  const lowered = rewrite(graph);
  const tuning = options.tuning ?? defaultConvTuning(gpu);
  const input = planner.external(io.images, "input images");
  const forward = lowerForward(planner, gpuModel, lowered, options.batchSize, input, "train", tuning);
  const logits = forward.output;
  const gradLogits = planner.tensor(logits.shape, "logits gradient");
  const lossSizes = {
    batch: options.batchSize,
    classes: graph.output.shape[0],
    labelSmoothing: options.labelSmoothing ?? 0,
  };
  const lossTensors = {
    logits,
    labels: planner.external(io.labels, "labels"),
    gradLogits,
    stats: planner.external({ buffer: io.stats, offset: 0, shape: [STATS_LENGTH] }, "training statistics"),
  };
  planner.op("loss: cross-entropy", lossTensors, (t) => crossEntropy(gpu, lossSizes, t, "loss"));
  lowerBackward(planner, gpuModel, lowered, forward, gradLogits, tuning);
  return planner.build();
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
