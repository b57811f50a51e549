/**
 * SGD step timings over resnet18's 11.17 M parameters (CIFAR head): `deno bench -A bench/optim_bench.ts`.
 *
 * One case per specialisation of the update (plain, momentum, Nesterov, with and without weight decay and
 * gradient clipping). Each step is timed by `timeDispatches` (enough copies in one submit to outlast the
 * wait, whose cost is subtracted); the best milliseconds per step are printed when the benches end.
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { type ParamGroupRange, Sgd, type SgdCreateOptions } from "../src/optim/sgd.ts";
import { benchFastest } from "./_util.ts";

/** resnet18's parameter count with a 10-class head; not a multiple of 4, so the scalar tail runs too. */
const PARAMETERS = 11_173_962;

const gpu = await Gpu.create();
console.log(`adapter: ${gpu.adapter.description}; ${PARAMETERS} parameters`);

function filled(label: string, seed: number): GPUBuffer {
  const data = new Float32Array(PARAMETERS);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 1e-3;
  return gpu.upload(label, data);
}

const buffers = { params: filled("params", 0), grads: filled("grads", 1), momentum: filled("momentum", 2) };
const fastest = new Map<string, number>();

function bench(name: string, group: Omit<ParamGroupRange, "offset" | "length">, options?: SgdCreateOptions) {
  const sgd = Sgd.create(gpu, buffers, [{ offset: 0, length: PARAMETERS, ...group }], options);
  benchFastest(gpu, fastest, {
    name,
    dispatches: sgd.dispatches,
    prepare: () => sgd.prepareStep(),
  });
}

bench("plain", { lr: 0.1 });
bench("weight decay", { lr: 0.1, weightDecay: 1e-4 });
bench("momentum", { lr: 0.1, momentum: 0.9 });
bench("momentum + weight decay", { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
bench("nesterov + weight decay", { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true });
bench("momentum + weight decay + clipping", { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }, {
  maxGradNorm: 1,
});

globalThis.addEventListener("unload", () => {
  console.log("\nbest ms per SGD step:");
  for (const [name, ms] of fastest) console.log(`  ${name.padEnd(40)} ${ms.toFixed(2)}`);
});
