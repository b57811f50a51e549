/**
 * Learning-rate schedules as pure functions of the optimizer step, with the values of PyTorch's
 * `torch.optim.lr_scheduler` classes. The step is the 0-based index of the optimizer step (PyTorch's
 * `last_epoch` when the scheduler is stepped once per optimizer step); to schedule by epochs, pass
 * epoch counts multiplied by the steps per epoch.
 *
 * @example
 * ```ts
 * import { cosineAnnealingLr, linearLr, sequentialLr } from "@denogpu/resnet";
 *
 * // 5 warm-up steps from 0.01 to 0.1, then cosine annealing to 0 over 95 steps.
 * const lr = sequentialLr([
 *   linearLr(0.1, { startFactor: 0.1, totalIters: 5 }),
 *   cosineAnnealingLr(0.1, { tMax: 95 }),
 * ], [5]);
 * console.log(lr(0), lr(5), lr(99)); // 0.01 0.1 ~0.00003
 * ```
 *
 * @module
 */

/** The learning rate at a 0-based optimizer step. */
export type Schedule = (step: number) => number;

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`a schedule's step must be a non-negative integer, got ${step}`);
  }
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/**
 * `StepLR`: `baseLr * gamma ** floor(step / stepSize)`.
 *
 * @example
 * ```ts
 * const lr = stepLr(0.1, { stepSize: 30 });
 * console.log(lr(29), lr(30)); // 0.1 0.01
 * ```
 */
export function stepLr(baseLr: number, options: { stepSize: number; gamma?: number }): Schedule {
  const { stepSize, gamma = 0.1 } = options;
  checkPositiveInteger(stepSize, "stepSize");
  return (step) => {
    checkStep(step);
    return baseLr * gamma ** Math.floor(step / stepSize);
  };
}

/**
 * `MultiStepLR`: `baseLr` times `gamma` once for every milestone at or before the step (a repeated
 * milestone counts as often as it appears, as in PyTorch).
 *
 * @example
 * ```ts
 * const lr = multiStepLr(1, { milestones: [3, 6] });
 * console.log(lr(2), lr(3), lr(6)); // 1 0.1 0.01
 * ```
 */
export function multiStepLr(
  baseLr: number,
  options: { milestones: readonly number[]; gamma?: number },
): Schedule {
  const { milestones, gamma = 0.1 } = options;
  return (step) => {
    checkStep(step);
    return baseLr * gamma ** milestones.filter((m) => m <= step).length;
  };
}

/**
 * `CosineAnnealingLR` in its closed form:
 * `etaMin + (baseLr - etaMin) * (1 + cos(pi * step / tMax)) / 2`, which rises again after `tMax` steps.
 *
 * @example
 * ```ts
 * const lr = cosineAnnealingLr(0.1, { tMax: 10, etaMin: 0.001 });
 * console.log(lr(0), lr(5), lr(10)); // 0.1 0.0505 0.001
 * ```
 */
export function cosineAnnealingLr(baseLr: number, options: { tMax: number; etaMin?: number }): Schedule {
  const { tMax, etaMin = 0 } = options;
  checkPositiveInteger(tMax, "tMax");
  return (step) => {
    checkStep(step);
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * step / tMax)) / 2;
  };
}

/**
 * `LinearLR`: the factor moves linearly from `startFactor` to `endFactor` over `totalIters` steps and stays
 * there: `baseLr * (startFactor + (endFactor - startFactor) * min(step, totalIters) / totalIters)`.
 * Defaults as in PyTorch: 1/3, 1 and 5.
 *
 * @example
 * ```ts
 * const lr = linearLr(0.5, { startFactor: 0.1, totalIters: 5 });
 * console.log(lr(0), lr(2), lr(5)); // 0.05 0.23 0.5
 * ```
 */
export function linearLr(
  baseLr: number,
  options: { startFactor?: number; endFactor?: number; totalIters?: number } = {},
): Schedule {
  const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = options;
  if (!(startFactor > 0 && startFactor <= 1)) {
    throw new RangeError(`startFactor must be in (0, 1], got ${startFactor}`);
  }
  if (!(endFactor >= 0 && endFactor <= 1)) {
    throw new RangeError(`endFactor must be in [0, 1], got ${endFactor}`);
  }
  checkPositiveInteger(totalIters, "totalIters");
  return (step) => {
    checkStep(step);
    return baseLr * (startFactor + (endFactor - startFactor) * Math.min(step, totalIters) / totalIters);
  };
}

/** Options of {@linkcode oneCycleLr}, named and defaulted as `OneCycleLR`'s. */
export interface OneCycleOptions {
  /** Steps in the cycle; the schedule is defined for steps 0 to `totalSteps` (PyTorch throws after). */
  totalSteps: number;
  /** Fraction of the cycle spent increasing the lr, 0.3 by default. */
  pctStart?: number;
  /** `"cos"` (the default) or `"linear"` annealing. */
  annealStrategy?: "cos" | "linear";
  /** The cycle starts at `maxLr / divFactor`, 25 by default. */
  divFactor?: number;
  /** The cycle ends at `maxLr / divFactor / finalDivFactor`, 1e4 by default. */
  finalDivFactor?: number;
  /** Three phases (up, back down to the initial lr, then to the minimum) instead of two; false by default. */
  threePhase?: boolean;
}

/**
 * `OneCycleLR` as PyTorch implements it: the lr rises from `maxLr / divFactor` to `maxLr` until step
 * `pctStart * totalSteps - 1`, then anneals to `maxLr / divFactor / finalDivFactor` at step `totalSteps - 1`.
 * (PyTorch also cycles the momentum by default; this schedule gives the lr only.)
 *
 * @example
 * ```ts
 * const lr = oneCycleLr(1, { totalSteps: 100 });
 * console.log(lr(0), lr(29), lr(99)); // 0.04 1 0.000004
 * ```
 */
export function oneCycleLr(maxLr: number, options: OneCycleOptions): Schedule {
  const {
    totalSteps,
    pctStart = 0.3,
    annealStrategy = "cos",
    divFactor = 25,
    finalDivFactor = 1e4,
    threePhase = false,
  } = options;
  checkPositiveInteger(totalSteps, "totalSteps");
  if (!(pctStart >= 0 && pctStart <= 1)) throw new RangeError(`pctStart must be in [0, 1], got ${pctStart}`);
  const initialLr = maxLr / divFactor;
  const minLr = initialLr / finalDivFactor;
  const phases = threePhase
    ? [
      { endStep: pctStart * totalSteps - 1, startLr: initialLr, endLr: maxLr },
      { endStep: 2 * pctStart * totalSteps - 2, startLr: maxLr, endLr: initialLr },
      { endStep: totalSteps - 1, startLr: initialLr, endLr: minLr },
    ]
    : [
      { endStep: pctStart * totalSteps - 1, startLr: initialLr, endLr: maxLr },
      { endStep: totalSteps - 1, startLr: maxLr, endLr: minLr },
    ];
  const anneal = annealStrategy === "cos"
    ? (start: number, end: number, pct: number) => end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1)
    : (start: number, end: number, pct: number) => (end - start) * pct + start;
  return (step) => {
    checkStep(step);
    if (step > totalSteps) {
      throw new RangeError(
        `Tried to step ${step} times. The specified number of total steps is ${totalSteps}`,
      );
    }
    let phase = 0, startStep = 0;
    while (phase < phases.length - 1 && step > phases[phase].endStep) startStep = phases[phase++].endStep;
    const { endStep, startLr, endLr } = phases[phase];
    return anneal(startLr, endLr, (step - startStep) / (endStep - startStep));
  };
}

/**
 * `SequentialLR`: `schedules[i]` applies from `milestones[i - 1]` (from 0 for the first) and restarts
 * there at its own step 0, so `sequentialLr([warmUp, cosine], [5])(7) === cosine(2)`.
 *
 * @example
 * ```ts
 * import { cosineAnnealingLr, linearLr, sequentialLr } from "@denogpu/resnet";
 *
 * const warmUp = linearLr(0.1, { startFactor: 0.1, totalIters: 5 });
 * const lr = sequentialLr([warmUp, cosineAnnealingLr(0.1, { tMax: 10 })], [5]);
 * console.log(lr(4), lr(5)); // 0.082 0.1
 * ```
 */
export function sequentialLr(schedules: readonly Schedule[], milestones: readonly number[]): Schedule {
  if (schedules.length !== milestones.length + 1) {
    throw new RangeError(
      `sequentialLr expects one milestone fewer than schedules, got ${schedules.length} schedules and ` +
        `${milestones.length} milestones`,
    );
  }
  for (let i = 0; i < milestones.length; i++) {
    if (
      !Number.isInteger(milestones[i]) || milestones[i] < 1 || (i > 0 && milestones[i] < milestones[i - 1])
    ) {
      throw new RangeError(`milestones must be increasing positive integers, got ${milestones.join(", ")}`);
    }
  }
  return (step) => {
    checkStep(step);
    const index = milestones.filter((m) => m <= step).length;
    return schedules[index](index === 0 ? step : step - milestones[index - 1]);
  };
}
