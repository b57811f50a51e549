/**
 * The training loop: epochs of GPU-fed training steps, a test evaluation after each, checkpoints,
 * `metrics.jsonl` and the HTML report in the run folder, progress on the terminal, a clean stop on request
 * (Ctrl-C) or when the loss diverges, and exact resumption.
 *
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import type { ImageDataset } from "../data/dataset.ts";
import { datasetFingerprint, datasetHead } from "../data/dataset.ts";
import { CIFAR_LAYOUTS } from "../data/cifar_layout.ts";
import { GpuBatcher } from "../data/gpu_batcher.ts";
import { defaultAugment, parseAugment } from "../data/augment_spec.ts";
import { planBatches } from "../data/batch_plan.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Module } from "../nn/module.ts";
import {
  CHECKPOINT_FORMAT,
  checkpointPaths,
  type EpochMetrics,
  loadCheckpointWeights,
  loadTrainingState,
  type ModelInfo,
  type PartialEpoch,
  recoverRunFolder,
  restoreEma,
  restoreOptimizer,
  saveCheckpoint,
  type TrainingState,
} from "./checkpoint.ts";
import { type Evaluation, Evaluator } from "./evaluate.ts";
import { barProgress, type EpochProgress, noProgress, plainProgress } from "./fit_progress.ts";
import {
  applyFreeze,
  fetchWeights,
  type FetchWeightsOptions,
  IMAGENET_WEIGHTS,
  loadPretrained,
  readStateDict,
} from "./pretrained.ts";
import { renderReport } from "./report.ts";
import { buildModel } from "../models/table.ts";
import { learningRate, type RunConfig } from "./run_config.ts";
import { type TrainingOptions, TrainingStep } from "../compile/training.ts";
import { type ConvTuning, defaultConvTuning } from "../ops/conv2d.ts";
import { writeFileAtomicAsync } from "../io/atomic.ts";
import { DivergenceError } from "../compile/divergence.ts";
import { exists } from "../io/_fs.ts";

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** The run folder: checkpoints, `metrics.jsonl` and `report.html` go here. */
  out: string;
  /** The run's config; when resuming, the saved one is used instead. */
  config: RunConfig;
  /** Both splits of the data set the config names (`limit` is applied here), and its name for titles. */
  data: { train: ImageDataset; test: ImageDataset; name?: string };
  /** Continue the run saved in `out` (its `last.*` checkpoint). */
  resume?: boolean;
  /** When aborted, the loop finishes the current step, saves and returns `"interrupted"`. */
  signal?: AbortSignal;
  /** Receives the human-readable lines (one per epoch, notes); `console.error` by default. */
  log?: (line: string) => void;
  /** `"bar"` (the default on a terminal), `"plain"` (the default otherwise) or `"none"`. */
  progress?: "bar" | "plain" | "none";
  /** Read the loss and accuracy from the GPU every this many steps (default 10; also at each epoch end). */
  statsEvery?: number;
  /** How `--pretrained imagenet` fetches torchvision's weights. */
  fetch?: FetchWeightsOptions;
  /** Called after every epoch with its metrics and test evaluation. */
  onEpoch?: (metrics: EpochMetrics, evaluation: Evaluation) => void;
  /** Called after each training step is submitted, with the optimizer steps taken so far. */
  onStep?: (step: number) => void;
  /**
   * How the convolution kernels run, for training and evaluation alike: usually
   * `await tuneConvolutionsCached(gpu, cacheDir)`, as the CLI passes. A new run saves it in `out`
   * (`tuning.json`) and a resumed run uses that one instead, so that it computes with the same kernels.
   *
   * @default {defaultConvTuning(gpu)}
   */
  tuning?: ConvTuning;
}

/** How {@linkcode fit} ended. */
export interface FitResult {
  /** `"completed"`, `"interrupted"` (saved, resumable) or `"diverged"` (the last good checkpoint kept). */
  status: "completed" | "interrupted" | "diverged";
  /** What happened, in one sentence. */
  message: string;
  /** Metrics of every finished epoch (the resumed run's earlier ones included). */
  history: EpochMetrics[];
  /** The best finished epoch by test accuracy. */
  best?: { epoch: number; testAccuracy: number };
  /** The run folder. */
  out: string;
  /** The latest test evaluation. */
  evaluation?: Evaluation;
  /** Optimizer steps taken. */
  step: number;
}

/**
 * The first `limit` samples of a data set (all of them without a limit).
 *
 * @example
 * ```ts
 * import { imageDataset } from "@denogpu/resnet/data";
 * import { limitDataset } from "@denogpu/resnet/train";
 * const data = imageDataset({
 *   images: new Uint8Array(10 * 3), labels: new Uint8Array(10),
 *   channels: 3, height: 1, width: 1, classes: ["a"],
 * });
 * console.log(limitDataset(data, 3, "train").count, limitDataset(data, undefined, "train").count); // 3 10
 * ```
 */
export function limitDataset(dataset: ImageDataset, limit: number | undefined, name: string): ImageDataset {
  return limit === undefined || limit >= dataset.count ? dataset : datasetHead(dataset, limit, name);
}

/** Training steps submitted to the GPU that the loop does not wait for. */
const MAX_STEPS_IN_FLIGHT = 2;

/** `12.3 s` or `4 min 05 s`. */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${String(Math.round(seconds - m * 60)).padStart(2, "0")} s`;
}

/** The line printed after each epoch. */
export function epochLine(m: EpochMetrics, epochs: number): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  return `epoch ${m.epoch}/${epochs}  train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)}  ` +
    `test loss ${m.testLoss.toFixed(4)} acc ${pct(m.testAccuracy)}  ` +
    (m.emaTestAccuracy === undefined ? "" : `ema acc ${pct(m.emaTestAccuracy)}  `) +
    `lr ${m.lr.toPrecision(3)}  ` +
    `${duration(m.seconds)} (${Math.round(m.imagesPerSecond)} img/s)`;
}

/**
 * Trains a model as `config` says on `data`, or continues the run saved in `out`. Every epoch ends with a
 * test evaluation, `last.*` checkpoints (and `best.*` when the test accuracy improved), `metrics.jsonl`
 * and `report.html`. A run interrupted after epoch k (or at any step) and resumed ends with the same
 * weights and metrics as an uninterrupted one: batches depend only on (seed, epoch, batch), the schedule
 * only on the step, and the optimizer state is saved.
 *
 * @example
 * ```ts ignore
 * import { Gpu } from "@denogpu/resnet";
 * import { loadCifar } from "@denogpu/resnet";
 * import { fit } from "@denogpu/resnet";
 * import { resolveConfig } from "@denogpu/resnet/train";
 * const gpu = await Gpu.create();
 * const config = resolveConfig({ epochs: 30, schedule: "cosine" });
 * const result = await fit(gpu, { out: "runs/cifar10", config, data: await loadCifar() });
 * console.log(result.status, result.best);
 * ```
 */
export async function fit(gpu: Gpu, options: FitOptions): Promise<FitResult> {
  const { out } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const state = await savedState(options);
  const config = state?.config ?? options.config;
  const train = limitDataset(options.data.train, config.limit, "training set");
  const test = limitDataset(options.data.test, config.limit, "test set");
  if (train.count < config.batchSize) {
    throw new Error(
      `the training set has ${train.count} images, fewer than one batch of ${config.batchSize}`,
    );
  }
  // Batches are made at the config's size, else at the test images' (an image folder keeps its training
  // images larger, for the crops to choose from).
  const size = config.imageSize ?? test.height;
  const info = modelInfo(config, train, size);
  const inputShape = info.inputShape;
  if (state && state.info.classes.join("\n") !== train.classes.join("\n")) {
    throw new Error(`the checkpoint in ${out} was trained on other classes than this data set's`);
  }
  const data = { count: train.count, fingerprint: await datasetFingerprint(train) };
  if (state?.data && state.data.fingerprint !== data.fingerprint) {
    throw new Error(
      `the run in ${out} was trained on other data: its training set had ${state.data.count} images ` +
        `(fingerprint ${state.data.fingerprint.slice(0, 12)}), this one has ${data.count} ` +
        `(${data.fingerprint.slice(0, 12)}); resume it on the data it started with`,
    );
  }

  const tuning = await runTuning(gpu, options, state);
  const model = await startingModel(
    config,
    train.classes.length,
    state && { out, state },
    options.fetch,
    log,
  );
  const augment = config.augment ?? defaultAugment({ imageSize: train.height, size });
  const kept = train.sizes
    ? `images of up to ${train.width}x${train.height}`
    : `${train.width}x${train.height} images`;
  log(`augmentation: ${augment} (${kept} to ${size}x${size})`);
  const batcher = trainingBatcher(gpu, train, config, { augment, size });
  let evaluator: Evaluator | undefined;
  try {
    const training = await TrainingStep.compile(gpu, model, {
      batchSize: config.batchSize,
      inputShape,
      optimizer: optimizerOf(config),
      labelSmoothing: config.labelSmoothing,
      input: { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches },
      tuning,
      ema: config.ema === undefined ? undefined : { decay: config.ema },
    });
    evaluator = await Evaluator.create(gpu, training.model, test, {
      batchSize: config.batchSize,
      tuning,
      size,
    });
    if (training.averagedModel) await evaluator.add(training.averagedModel);
    if (state) {
      await restoreOptimizer(out, training, state);
      await restoreEma(out, training, state);
    }
    await Deno.mkdir(out, { recursive: true });
    if (!state) await writeFileAtomicAsync(tuningPath(out), JSON.stringify(tuning));
    // The augmentation is saved as chosen, so that the sidecar and the report say what ran.
    return await trainEpochs(gpu, { ...options, config: { ...config, augment } }, state, {
      training,
      batcher,
      evaluator,
      info,
      data,
    });
  } finally {
    evaluator?.destroy();
    batcher.destroy();
  }
}

/** Where a run keeps the convolution tuning it trains with. */
const tuningPath = (out: string) => join(out, "tuning.json");

/**
 * The tuning a run computes with: a resumed run's own (saved when it started, so that it goes on with the
 * same kernels whatever the cache or the flags say now), else the options'.
 */
async function runTuning(
  gpu: Gpu,
  options: FitOptions,
  state: TrainingState | undefined,
): Promise<ConvTuning> {
  const path = tuningPath(options.out);
  if (!state || !await exists(path)) return options.tuning ?? defaultConvTuning(gpu);
  try {
    return JSON.parse(await Deno.readTextFile(path)) as ConvTuning;
  } catch (error) {
    throw new Error(`${path}: cannot read the run's convolution tuning: ${(error as Error).message}`);
  }
}

/** The training set's batches; an augmentation that cannot make them is refused naming it. */
function trainingBatcher(
  gpu: Gpu,
  train: ImageDataset,
  config: RunConfig,
  batches: { augment: string; size: number },
): GpuBatcher {
  const { augment, size } = batches;
  const plan = {
    batchSize: config.batchSize,
    shuffle: true,
    augment: parseAugment(augment, { size }),
    seed: config.seed,
    dropLast: true,
    size,
  };
  try {
    planBatches(train, plan);
  } catch (error) {
    if (error instanceof RangeError) throw new Error(`augmentation "${augment}": ${error.message}`);
    throw error;
  }
  return GpuBatcher.create(gpu, train, plan, { label: "training data" });
}

/** The sidecar of the run to resume, or none; refuses to start a new run over an existing one. */
async function savedState(options: FitOptions): Promise<TrainingState | undefined> {
  await recoverRunFolder(options.out);
  if (options.resume) return await loadTrainingState(options.out);
  const last = checkpointPaths(options.out, "last");
  if (await exists(last.state)) {
    throw new Error(
      `${options.out} already holds a run (${last.state}); resume it or choose another output folder`,
    );
  }
  return undefined;
}

/** What the run's model files are for. */
function modelInfo(config: RunConfig, train: ImageDataset, size: number): ModelInfo {
  // The batches are normalised with the data set's statistics, else CIFAR-10's (as the batch plan does).
  return {
    model: config.model,
    stem: config.stem,
    classes: train.classes,
    mean: [...(train.mean ?? CIFAR_LAYOUTS.cifar10.mean)],
    std: [...(train.std ?? CIFAR_LAYOUTS.cifar10.std)],
    inputShape: [train.channels, size, size],
  };
}

/** The model a run starts from: its checkpoint when resuming, else fresh or pretrained, then frozen. */
async function startingModel(
  config: RunConfig,
  numClasses: number,
  resume: { out: string; state: TrainingState } | undefined,
  fetch: FetchWeightsOptions | undefined,
  log: (line: string) => void,
): Promise<Module> {
  const model = buildModel(config.model, { numClasses, stem: config.stem, seed: config.seed });
  if (resume) {
    const weights = await loadCheckpointWeights(resume.out, resume.state);
    model.loadStateDict(weights, { source: checkpointPaths(resume.out, "last").weights });
  } else if (config.pretrained) {
    const path = config.pretrained === "imagenet"
      ? await fetchWeights(IMAGENET_WEIGHTS[config.model], fetch)
      : config.pretrained;
    const loaded = loadPretrained(model, await readStateDict(path), path);
    log(
      `loaded ${loaded.loaded} tensors from ${path}` +
        (loaded.replacedHead
          ? `; replaced its ${loaded.replacedHead[0]}-class head with a new ${numClasses}-class fc`
          : ""),
    );
  }
  const frozen = applyFreeze(model, config.freeze);
  if (frozen.length) log(`frozen: ${frozen.length} parameter tensors (${config.freeze}); training the rest`);
  return model;
}

/** What the epoch loop runs. */
interface RunParts {
  training: TrainingStep;
  batcher: GpuBatcher;
  evaluator: Evaluator;
  info: ModelInfo;
  data: { count: number; fingerprint: string };
}

/** Where a run stands and what it has produced: the loop advances it, every checkpoint saves it. */
interface RunState {
  /** The epoch in progress, 0-based. */
  epoch: number;
  /** The next batch of that epoch. */
  batch: number;
  /** Optimizer steps taken. */
  step: number;
  partial: PartialEpoch;
  history: EpochMetrics[];
  best?: { epoch: number; testAccuracy: number };
  evaluation?: Evaluation;
}

/** Everything the parts of the epoch loop share. */
interface Loop extends RunParts {
  gpu: Gpu;
  options: FitOptions;
  run: RunState;
  schedule: (step: number) => number;
  batches: number;
  statsEvery: number;
  progress: EpochProgress;
  log: (line: string) => void;
  /** Completions of submitted steps not waited for yet. */
  inFlight: Promise<void>[];
}

const noPartialEpoch = (): PartialEpoch => ({ lossSum: 0, correct: 0, samples: 0, seconds: 0 });

/** The epochs from where `state` stands (or from the start), with saving, reporting and stopping. */
async function trainEpochs(
  gpu: Gpu,
  options: FitOptions,
  state: TrainingState | undefined,
  parts: RunParts,
): Promise<FitResult> {
  const loop = startLoop(gpu, options, state, parts);
  const { run, batches } = loop;
  const { config } = options;
  try {
    for (; run.epoch < config.epochs; run.epoch++) {
      if (
        await trainEpoch(loop) === "interrupted" || await stopBeforeEvaluation(loop) ||
        await finishEpoch(loop) === "interrupted"
      ) {
        const saved = checkpointPaths(options.out, "last").weights;
        return result(
          loop,
          "interrupted",
          `stopped at epoch ${run.epoch + 1}, batch ${run.batch} of ${batches}; saved ${saved}`,
        );
      }
    }
  } catch (error) {
    loop.progress.stop();
    const kept = run.history.length
      ? `the last good checkpoint, ${checkpointPaths(options.out, "last").weights}, is from epoch ${
        run.history.at(-1)!.epoch
      }`
      : "no checkpoint was written";
    const lost = await gpu.lostInfo();
    if (lost) {
      throw new Error(
        `the GPU device was lost (${lost.reason}${lost.message ? `: ${lost.message}` : ""}) during epoch ` +
          `${run.epoch + 1}, step ${run.step}; ${kept} and intact: resume from it when the GPU is back`,
        { cause: error },
      );
    }
    if (!(error instanceof DivergenceError)) throw error;
    return result(
      loop,
      "diverged",
      `stopped: ${error.message} (epoch ${run.epoch + 1}, step ${run.step}); ${kept}`,
    );
  }
  const best = run.best;
  return result(
    loop,
    "completed",
    `finished ${config.epochs} epochs; best test accuracy ${
      ((best?.testAccuracy ?? 0) * 100).toFixed(2)
    }% at epoch ${best?.epoch}`,
  );
}

/** The loop's shared parts, standing where `state` does (or at the start). */
function startLoop(gpu: Gpu, options: FitOptions, state: TrainingState | undefined, parts: RunParts): Loop {
  const statsEvery = options.statsEvery ?? 10;
  if (!Number.isInteger(statsEvery) || statsEvery < 1) {
    throw new RangeError(`statsEvery must be a positive integer, got ${statsEvery}`);
  }
  const log = options.log ?? ((line: string) => console.error(line));
  const batches = parts.batcher.batchesPerEpoch;
  const progress: EpochProgress = (options.progress ?? (process.stderr.isTTY ? "bar" : "plain")) === "bar"
    ? barProgress()
    : options.progress === "none"
    ? noProgress()
    : plainProgress(log);
  const run: RunState = {
    epoch: state?.position.epoch ?? 0,
    batch: state?.position.batch ?? 0,
    step: state?.step ?? 0,
    partial: state?.partial ?? noPartialEpoch(),
    history: [...(state?.history ?? [])],
    best: state?.best,
  };
  if (run.partial.pending) parts.training.loadAccumulatedStats(run.partial.pending);
  run.partial = { ...run.partial, pending: undefined };
  const schedule = learningRate(options.config, batches);
  return { ...parts, gpu, options, run, schedule, batches, statsEvery, progress, log, inFlight: [] };
}

/** The sidecar of the run standing at `position`. */
function snapshot(loop: Loop, position: { epoch: number; batch: number }): TrainingState {
  const { config } = loop.options;
  const { run } = loop;
  return {
    format: CHECKPOINT_FORMAT,
    config,
    info: loop.info,
    position,
    step: run.step,
    seed: config.seed,
    partial: position.batch > 0 ? run.partial : undefined,
    history: run.history,
    best: run.best,
    data: loop.data,
  };
}

function result(loop: Loop, status: FitResult["status"], message: string): FitResult {
  const { history, best, evaluation, step } = loop.run;
  return { status, message, history, best, out: loop.options.out, evaluation, step };
}

/**
 * The rest of the epoch in progress, step by step; on a stop request it saves `last` and says
 * `"interrupted"`.
 */
async function trainEpoch(loop: Loop): Promise<"trained" | "interrupted"> {
  const { run, options, progress, batches, training } = loop;
  const { config } = options;
  progress.start(run.epoch + 1, config.epochs, batches, run.batch);
  const started = performance.now() - run.partial.seconds * 1000;
  // Speed counts only this session's steps: a resumed epoch's earlier ones ran in another process.
  const firstBatch = run.batch;
  const sessionStart = performance.now();
  const show = (done: number) =>
    progress.update({
      batch: done,
      loss: run.partial.lossSum / run.partial.samples,
      accuracy: run.partial.correct / run.partial.samples,
      imagesPerSecond: ((done - firstBatch) * config.batchSize) /
        Math.max((performance.now() - sessionStart) / 1000, 1e-6),
    });
  const readStats = async () => {
    const stats = await training.readStats();
    run.partial.lossSum += stats.loss * stats.samples;
    run.partial.correct += stats.accuracy * stats.samples;
    run.partial.samples += stats.samples;
    run.partial.seconds = (performance.now() - started) / 1000;
  };
  for (; run.batch < batches; run.batch++) {
    if (options.signal?.aborted) {
      // The sums since the last read are saved as they are: reading them now would split a float32 sum
      // that the uninterrupted run adds up in one piece.
      run.partial.pending = await training.accumulatedStats();
      run.partial.seconds = (performance.now() - started) / 1000;
      progress.stop();
      await saveCheckpoint(
        options.out,
        "last",
        training,
        snapshot(loop, { epoch: run.epoch, batch: run.batch }),
      );
      return "interrupted";
    }
    await trainStep(loop);
    options.onStep?.(run.step);
    // A fixed cadence, so that a resumed run sums the same partial statistics in the same order.
    if ((run.batch + 1) % loop.statsEvery === 0 && run.batch + 1 < batches) await readStats();
    show(run.batch + 1);
  }
  await readStats();
  show(batches);
  progress.stop();
  return "trained";
}

/**
 * After an epoch's last step, a stop request is honoured before the evaluation (which can take longer than
 * a step) and during it: `last` is saved standing after the last batch, and a resumed run evaluates the
 * epoch.
 */
async function stopBeforeEvaluation(loop: Loop): Promise<boolean> {
  if (!loop.options.signal?.aborted) return false;
  await saveBeforeEvaluation(loop);
  return true;
}

async function saveBeforeEvaluation(loop: Loop): Promise<void> {
  await saveCheckpoint(
    loop.options.out,
    "last",
    loop.training,
    snapshot(loop, { epoch: loop.run.epoch, batch: loop.run.batch }),
  );
}

/** The test evaluation of model `index`, or `"interrupted"` (saved) when a stop request ends it. */
async function evaluateOrStop(loop: Loop, index: number): Promise<Evaluation | "interrupted"> {
  try {
    return await loop.evaluator.run(index, { signal: loop.options.signal });
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "AbortError")) throw error;
    await saveBeforeEvaluation(loop);
    return "interrupted";
  }
}

/** Submits the step of the run's batch. */
async function trainStep(loop: Loop): Promise<void> {
  const { run, inFlight } = loop;
  loop.batcher.select(run.epoch, run.batch);
  loop.training.step(loop.schedule(run.step));
  run.step++;
  // Waiting for the step before last keeps the GPU fed while the host stays at most two steps ahead,
  // so that a stop request is seen within a step and the progress shows what the GPU has done.
  inFlight.push(loop.gpu.device.queue.onSubmittedWorkDone());
  if (inFlight.length > MAX_STEPS_IN_FLIGHT) await inFlight.shift();
}

/**
 * The end of a trained epoch: test evaluation, metrics, checkpoints, `metrics.jsonl`, report and log; or
 * `"interrupted"` when a stop request ends the evaluation.
 */
async function finishEpoch(loop: Loop): Promise<"finished" | "interrupted"> {
  const { run, options } = loop;
  const { out, config } = options;
  const evaluation = await evaluateOrStop(loop, 0);
  if (evaluation === "interrupted") return evaluation;
  run.evaluation = evaluation;
  if (!Number.isFinite(evaluation.loss)) {
    throw new DivergenceError(`the test loss became ${evaluation.loss}`, {
      loss: evaluation.loss,
      step: run.step,
    });
  }
  const averaged = loop.training.averagedModel ? await evaluateOrStop(loop, 1) : undefined;
  if (averaged === "interrupted") return averaged;
  const metrics = epochMetrics(loop, evaluation, averaged);
  run.history.push(metrics);
  const improved = !run.best || metrics.testAccuracy > run.best.testAccuracy;
  if (improved) run.best = { epoch: metrics.epoch, testAccuracy: metrics.testAccuracy };
  run.batch = 0;
  run.partial = noPartialEpoch();
  const saved = snapshot(loop, { epoch: run.epoch + 1, batch: 0 });
  // The metrics and the report change with the checkpoint, so that a crash leaves them in step.
  const report = renderReport({
    title: `${config.model} on ${loop.options.data.name ?? config.dataset}`,
    history: run.history,
    evaluation,
    epochs: config.epochs,
    settings: { ...config },
  });
  await saveCheckpoint(out, "last", loop.training, saved, {
    best: improved,
    files: [
      [join(out, "metrics.jsonl"), run.history.map((m) => JSON.stringify(m) + "\n").join("")],
      [join(out, "report.html"), report],
    ],
  });
  loop.log(epochLine(metrics, config.epochs));
  options.onEpoch?.(metrics, evaluation);
  return "finished";
}

/** The metrics of the epoch just trained and evaluated. */
function epochMetrics(loop: Loop, evaluation: Evaluation, averaged?: Evaluation): EpochMetrics {
  const { run } = loop;
  return {
    epoch: run.epoch + 1,
    step: run.step,
    lr: loop.schedule(run.step - 1),
    trainLoss: run.partial.lossSum / run.partial.samples,
    trainAccuracy: run.partial.correct / run.partial.samples,
    testLoss: evaluation.loss,
    testAccuracy: evaluation.top1,
    testTop5: evaluation.top5,
    ...(averaged
      ? { emaTestLoss: averaged.loss, emaTestAccuracy: averaged.top1, emaTestTop5: averaged.top5 }
      : {}),
    seconds: run.partial.seconds,
    imagesPerSecond: run.partial.samples / run.partial.seconds,
  };
}

/**
 * Turns Ctrl-C into a clean stop: the first SIGINT aborts the returned signal (the loop then finishes its
 * step, saves and returns) and says so through `notify`; a second one exits at once with status 130.
 * `dispose` removes the handler.
 *
 * @example
 * ```ts ignore
 * const interrupt = stopOnInterrupt((line) => console.error(line));
 * try {
 *   await fit(gpu, { ...options, signal: interrupt.signal });
 * } finally {
 *   interrupt.dispose();
 * }
 * ```
 */
export function stopOnInterrupt(notify: (line: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
    notify("\ninterrupted: finishing this step and saving (press Ctrl-C again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", handler);
  return { signal: controller.signal, dispose: () => Deno.removeSignalListener("SIGINT", handler) };
}

/** The training step's optimizer options of a run: each optimizer gets only the settings that apply to it. */
function optimizerOf(config: RunConfig): TrainingOptions["optimizer"] {
  const { lr, weightDecay } = config;
  const kind = config.optimizer ?? "sgd";
  if (kind === "sgd") return { kind, lr, weightDecay, momentum: config.momentum, nesterov: config.nesterov };
  return { kind, lr, weightDecay, betas: config.betas, eps: config.eps };
}
