/** Small models with non-trivial parameters and BatchNorm statistics, for comparing GPU and CPU. */
import type { Module } from "../../src/nn/module.ts";
import { random } from "../_gpu.ts";

/** Gives every BatchNorm parameter and running statistic seeded non-trivial values; returns the model. */
export function perturbBatchNorm<M extends Module>(model: M, seed: number): M {
  const next = random(seed);
  for (const p of model.namedParameters()) {
    if (p.integer) continue;
    if (p.name.endsWith("running_var")) p.data = p.data.map(() => 0.5 + Math.abs(next()));
    else if (p.name.endsWith("running_mean")) p.data = p.data.map(() => next() * 0.3);
    else if (/bn\d\.weight$|downsample\.1\.weight$/.test(p.name)) p.data = p.data.map(() => 1 + next() * 0.3);
    else if (/bn\d\.bias$|downsample\.1\.bias$/.test(p.name)) p.data = p.data.map(() => next() * 0.2);
  }
  return model;
}
