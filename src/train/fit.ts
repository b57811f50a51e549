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
import { imageDataset } from "../data/dataset.ts";
import { CIFAR_LAYOUTS } from "../data/cifar_layout.ts";
import { GpuBatcher } from "../data/gpu_batcher.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Module } from "../nn/module.ts";
import { writeFileAtomicAsync } from "../io/atomic.ts";
import {
  CHECKPOINT_FORMAT,
  checkpointPaths,
  type EpochMetrics,
  loadCheckpointWeights,
  loadTrainingState,
  type ModelInfo,
  type PartialEpoch,
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
import { writeReport } from "./report.ts";
import { buildModel, learningRate, type RunConfig } from "./run_config.ts";
import { TrainingStep } from "../compile/training.ts";
import { exists } from "../io/_fs.ts";

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** The run folder: checkpoints, `metrics.jsonl` and `report.html` go here. */
  out: string;
  /** The run's config; when resuming, the saved one is used instead. */
  config: RunConfig;
  /** Both splits of the data set the config names (`limit` is applied here). */
  data: { train: ImageDataset; test: ImageDataset };
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

/** The first `limit` samples of a data set (all of them without a limit). */
export function limitDataset(dataset: ImageDataset, limit: number | undefined, name: string): ImageDataset {
  if (limit === undefined || limit >= dataset.count) return dataset;
  const size = dataset.channels * dataset.height * dataset.width;
  return imageDataset({
    ...dataset,
    images: dataset.images.subarray(0, limit * size),
    labels: dataset.labels.subarray(0, limit),
  }, name);
}

/** Training steps submitted to the GPU that the loop does not wait for. */
const MAX_STEPS_IN_FLIGHT = 2;

/** The test loss stopped being finite: handled like a diverged training loss. */
class Divergence extends Error {}

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
    `test loss ${m.testLoss.toFixed(4)} acc ${pct(m.testAccuracy)}  lr ${m.lr.toPrecision(3)}  ` +
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
 * import { Gpu } from "../gpu/device.ts";
 * import { loadCifar } from "../data/cifar.ts";
 * import { fit } from "./fit.ts";
 * import { resolveConfig } from "./run_config.ts";
 * const gpu = await Gpu.create();
 * const config = resolveConfig({ epochs: 30, schedule: "cosine" });
 * const result = await fit(gpu, { out: "runs/cifar10", config, data: await loadCifar() });
 * console.log(result.status, result.best);
 * ```
 */
export async function fit(gpu: Gpu, options: FitOptions): Promise<FitResult> {
  const { out } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const last = checkpointPaths(out, "last");
  let state: TrainingState | undefined;
  if (options.resume) state = await loadTrainingState(out);
  else if (await exists(last.state)) {
    throw new Error(`${out} already holds a run (${last.state}); resume it or choose another output folder`);
  }
  const config = state?.config ?? options.config;
  const train = limitDataset(options.data.train, config.limit, "training set");
  const test = limitDataset(options.data.test, config.limit, "test set");
  if (train.count < config.batchSize) {
    throw new Error(
      `the training set has ${train.count} images, fewer than one batch of ${config.batchSize}`,
    );
  }
  const inputShape = [train.channels, train.height, train.width];
  // The batches are normalised with the data set's statistics, else CIFAR-10's (as the batch plan does).
  const info: ModelInfo = {
    model: config.model,
    stem: config.stem,
    classes: train.classes,
    mean: [...(train.mean ?? CIFAR_LAYOUTS.cifar10.mean)],
    std: [...(train.std ?? CIFAR_LAYOUTS.cifar10.std)],
    inputShape,
  };
  if (state && state.info.classes.join("\n") !== train.classes.join("\n")) {
    throw new Error(`the checkpoint in ${out} was trained on other classes than this data set's`);
  }

  const model = await startingModel(
    config,
    train.classes.length,
    state && { out, state },
    options.fetch,
    log,
  );
  const batcher = GpuBatcher.create(gpu, train, {
    batchSize: config.batchSize,
    shuffle: true,
    augment: true,
    seed: config.seed,
    dropLast: true,
  }, { label: "training data" });
  let evaluator: Evaluator | undefined;
  try {
    const training = await TrainingStep.compile(gpu, model, {
      batchSize: config.batchSize,
      inputShape,
      optimizer: {
        lr: config.lr,
        momentum: config.momentum,
        weightDecay: config.weightDecay,
        nesterov: config.nesterov,
      },
      labelSmoothing: config.labelSmoothing,
      input: { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches },
    });
    evaluator = await Evaluator.create(gpu, training.model, test, { batchSize: config.batchSize });
    if (state) await restoreOptimizer(out, training, state);
    await Deno.mkdir(out, { recursive: true });
    return await trainEpochs(gpu, { ...options, config }, state, { training, batcher, evaluator, info });
  } finally {
    evaluator?.destroy();
    batcher.destroy();
  }
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
}

/** The epochs from where `state` stands (or from the start), with saving, reporting and stopping. */
async function trainEpochs(
  gpu: Gpu,
  options: FitOptions,
  state: TrainingState | undefined,
  parts: RunParts,
): Promise<FitResult> {
  const { out, config } = options;
  const { training, batcher, evaluator, info } = parts;
  const log = options.log ?? ((line: string) => console.error(line));
  const last = checkpointPaths(out, "last");
  const batches = batcher.batchesPerEpoch;
  const schedule = learningRate(config, batches);
  const statsEvery = options.statsEvery ?? 10;
  if (!Number.isInteger(statsEvery) || statsEvery < 1) {
    throw new RangeError(`statsEvery must be a positive integer, got ${statsEvery}`);
  }
  const inFlight: Promise<void>[] = [];
  const history = [...(state?.history ?? [])];
  let best = state?.best;
  let step = state?.step ?? 0;
  let epoch = state?.position.epoch ?? 0;
  let batch = state?.position.batch ?? 0;
  let partial: PartialEpoch = state?.partial ?? { lossSum: 0, correct: 0, samples: 0, seconds: 0 };
  let evaluation: Evaluation | undefined;
  const progress: EpochProgress = (options.progress ?? (process.stderr.isTTY ? "bar" : "plain")) === "bar"
    ? barProgress()
    : options.progress === "none"
    ? noProgress()
    : plainProgress(log);
  const snapshot = (position: { epoch: number; batch: number }): TrainingState => ({
    format: CHECKPOINT_FORMAT,
    config,
    info,
    position,
    step,
    seed: config.seed,
    partial: position.batch > 0 ? partial : undefined,
    history,
    best,
  });
  const result = (status: FitResult["status"], message: string): FitResult => ({
    status,
    message,
    history,
    best,
    out,
    evaluation,
    step,
  });

  try {
    for (; epoch < config.epochs; epoch++) {
      progress.start(epoch + 1, config.epochs, batches, batch);
      const started = performance.now() - partial.seconds * 1000;
      // Speed counts only this session's steps: a resumed epoch's earlier ones ran in another process.
      const firstBatch = batch;
      const sessionStart = performance.now();
      const show = (done: number) =>
        progress.update({
          batch: done,
          loss: partial.lossSum / partial.samples,
          accuracy: partial.correct / partial.samples,
          imagesPerSecond: ((done - firstBatch) * config.batchSize) /
            Math.max((performance.now() - sessionStart) / 1000, 1e-6),
        });
      const readStats = async () => {
        const stats = await training.readStats();
        partial.lossSum += stats.loss * stats.samples;
        partial.correct += stats.accuracy * stats.samples;
        partial.samples += stats.samples;
        partial.seconds = (performance.now() - started) / 1000;
      };
      for (; batch < batches; batch++) {
        if (options.signal?.aborted) {
          await readStats();
          progress.stop();
          await saveCheckpoint(out, "last", training, snapshot({ epoch, batch }));
          return result(
            "interrupted",
            `stopped at epoch ${epoch + 1}, batch ${batch} of ${batches}; saved ${last.weights}`,
          );
        }
        batcher.select(epoch, batch);
        training.step(schedule(step));
        step++;
        // Waiting for the step before last keeps the GPU fed while the host stays at most two steps ahead,
        // so that a stop request is seen within a step and the progress shows what the GPU has done.
        inFlight.push(gpu.device.queue.onSubmittedWorkDone());
        if (inFlight.length > MAX_STEPS_IN_FLIGHT) await inFlight.shift();
        // A fixed cadence, so that a resumed run sums the same partial statistics in the same order.
        if ((batch + 1) % statsEvery === 0 && batch + 1 < batches) await readStats();
        show(batch + 1);
      }
      await readStats();
      show(batches);
      progress.stop();
      evaluation = await evaluator.run();
      if (!Number.isFinite(evaluation.loss)) throw new Divergence(`the test loss became ${evaluation.loss}`);
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        step,
        lr: schedule(step - 1),
        trainLoss: partial.lossSum / partial.samples,
        trainAccuracy: partial.correct / partial.samples,
        testLoss: evaluation.loss,
        testAccuracy: evaluation.top1,
        testTop5: evaluation.top5,
        seconds: partial.seconds,
        imagesPerSecond: partial.samples / partial.seconds,
      };
      history.push(metrics);
      const improved = !best || metrics.testAccuracy > best.testAccuracy;
      if (improved) best = { epoch: metrics.epoch, testAccuracy: metrics.testAccuracy };
      batch = 0;
      partial = { lossSum: 0, correct: 0, samples: 0, seconds: 0 };
      const saved = snapshot({ epoch: epoch + 1, batch: 0 });
      await saveCheckpoint(out, "last", training, saved);
      if (improved) await saveCheckpoint(out, "best", training, saved);
      await writeFileAtomicAsync(
        join(out, "metrics.jsonl"),
        history.map((m) => JSON.stringify(m) + "\n").join(""),
      );
      await writeReport(join(out, "report.html"), {
        title: `${config.model} on ${config.dataset}`,
        history,
        evaluation,
        epochs: config.epochs,
        settings: { ...config },
      });
      log(epochLine(metrics, config.epochs));
      options.onEpoch?.(metrics, evaluation);
    }
  } catch (error) {
    progress.stop();
    if (
      !(error instanceof Divergence || (error instanceof Error && /^training diverged/.test(error.message)))
    ) {
      throw error;
    }
    const kept = history.length
      ? `the last good checkpoint, ${last.weights}, is from epoch ${history.at(-1)!.epoch}`
      : "no checkpoint was written";
    return result("diverged", `stopped: ${error.message} (epoch ${epoch + 1}, step ${step}); ${kept}`);
  }
  return result(
    "completed",
    `finished ${config.epochs} epochs; best test accuracy ${
      ((best?.testAccuracy ?? 0) * 100).toFixed(2)
    }% at epoch ${best?.epoch}`,
  );
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
