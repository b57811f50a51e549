import assert from "node:assert/strict";
import {
  cosineAnnealingLr,
  linearLr,
  multiStepLr,
  oneCycleLr,
  type Schedule,
  sequentialLr,
  stepLr,
} from "../../src/optim/schedule.ts";

// The expected values were computed in Python by transcribing torch.optim.lr_scheduler (torch 2.x): the
// recursive ("chainable") get_lr of CosineAnnealingLR and LinearLR as the scheduler steps it, StepLR's
// `base * gamma ** (epoch // step_size)` and OneCycleLR's phase loop, e.g. for CosineAnnealingLR:
//   lr = base; for e in range(1, n):
//     if (e - 1 - T) % (2 * T) == 0: lr += (base - eta_min) * (1 - cos(pi / T)) / 2
//     else: lr = (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lr - eta_min) + eta_min
// The closed forms here agree with those recursions to rounding.
const TOLERANCE = 1e-12;

function assertSchedule(schedule: Schedule, expected: Record<number, number>, what: string): void {
  for (const [step, lr] of Object.entries(expected)) {
    const actual = schedule(Number(step));
    assert.ok(
      Math.abs(actual - lr) <= TOLERANCE * Math.max(Math.abs(lr), 1e-3),
      `${what} at step ${step}: ${actual}, expected ${lr}`,
    );
  }
}

Deno.test("stepLr: StepLR(step_size=30, gamma=0.1)", () => {
  assertSchedule(
    stepLr(0.1, { stepSize: 30 }),
    { 0: 0.1, 29: 0.1, 30: 0.010000000000000002, 59: 0.01, 60: 0.0010000000000000002, 95: 0.0001 },
    "StepLR",
  );
  assertSchedule(stepLr(1, { stepSize: 2, gamma: 0.5 }), { 0: 1, 1: 1, 2: 0.5, 5: 0.25 }, "StepLR gamma 0.5");
});

Deno.test("multiStepLr: MultiStepLR(milestones=[3, 6], gamma=0.1), repeated milestones count twice", () => {
  assertSchedule(
    multiStepLr(1, { milestones: [3, 6] }),
    { 0: 1, 2: 1, 3: 0.1, 5: 0.1, 6: 0.01, 100: 0.01 },
    "",
  );
  assertSchedule(multiStepLr(1, { milestones: [2, 2], gamma: 0.5 }), { 1: 1, 2: 0.25 }, "repeated");
});

Deno.test("cosineAnnealingLr: CosineAnnealingLR(T_max=10, eta_min=0.001), past T_max too", () => {
  assertSchedule(cosineAnnealingLr(0.1, { tMax: 10, etaMin: 0.001 }), {
    0: 0.1,
    3: 0.07959536998847742,
    5: 0.0505,
    10: 0.001,
    13: 0.02140463001152267,
    20: 0.10000000000000045,
    24: 0.0657963412215602,
  }, "CosineAnnealingLR");
});

Deno.test("linearLr: LinearLR(start_factor=0.1, total_iters=5) and PyTorch's defaults", () => {
  assertSchedule(linearLr(0.5, { startFactor: 0.1, totalIters: 5 }), {
    0: 0.05,
    1: 0.13999999999999999,
    2: 0.22999999999999995,
    4: 0.4099999999999999,
    5: 0.5,
    7: 0.5,
  }, "LinearLR");
  // Defaults: start_factor 1/3, end_factor 1, total_iters 5.
  assertSchedule(linearLr(0.3), { 0: 0.1, 5: 0.3 }, "LinearLR defaults");
});

Deno.test("oneCycleLr: OneCycleLR(max_lr=1, total_steps=100) with its defaults", () => {
  assertSchedule(oneCycleLr(1, { totalSteps: 100 }), {
    0: 0.040000000000000036,
    14: 0.49401332387899954,
    29: 1,
    30: 0.9994965352845243,
    64: 0.500002,
    99: 4e-6,
    100: 0.0005074647154757324,
  }, "OneCycleLR");
  assert.throws(() => oneCycleLr(1, { totalSteps: 100 })(101), /Tried to step 101 times/);
});

Deno.test("oneCycleLr: three phases with linear annealing", () => {
  const schedule = oneCycleLr(0.6, {
    totalSteps: 50,
    pctStart: 0.25,
    threePhase: true,
    annealStrategy: "linear",
  });
  assertSchedule(schedule, {
    0: 0.024,
    5: 0.27443478260869564,
    11: 0.5749565217391305,
    17: 0.32452173913043475,
    23: 0.02400000000000002,
    30: 0.017539107692307692,
    49: 2.3999999999996247e-6,
  }, "OneCycleLR three phases");
});

Deno.test("sequentialLr: SequentialLR(LinearLR warm-up, CosineAnnealingLR(T_max=10), milestones=[5])", () => {
  const schedule = sequentialLr([
    linearLr(0.1, { startFactor: 0.1, totalIters: 5 }),
    cosineAnnealingLr(0.1, { tMax: 10 }),
  ], [5]);
  assertSchedule(schedule, {
    0: 0.010000000000000002,
    4: 0.082,
    5: 0.1,
    7: 0.09045084971874738,
    10: 0.05000000000000001,
    15: 0,
  }, "SequentialLR");
});

Deno.test("schedules reject bad arguments", () => {
  assert.throws(() => stepLr(0.1, { stepSize: 0 }), /stepSize must be a positive integer/);
  assert.throws(() => cosineAnnealingLr(0.1, { tMax: 10 })(-1), /non-negative integer/);
  assert.throws(() => cosineAnnealingLr(0.1, { tMax: 10 })(1.5), /non-negative integer/);
  assert.throws(() => linearLr(0.1, { startFactor: 0 }), /startFactor must be in \(0, 1\]/);
  assert.throws(() => oneCycleLr(1, { totalSteps: 10, pctStart: 1.5 }), /pctStart/);
  assert.throws(() => sequentialLr([linearLr(0.1)], [5]), /one milestone fewer than schedules/);
  assert.throws(() => sequentialLr([linearLr(0.1), linearLr(0.1), linearLr(0.1)], [5, 3]), /increasing/);
});
