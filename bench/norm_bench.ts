/**
 * BatchNorm (train forward, backward) and global average pool timings: `deno bench -A bench/norm_bench.ts`.
 *
 * Covers resnet18's batch-norm shapes with the ImageNet stem on 32x32 inputs at batch 8 and with the CIFAR
 * stem at batch 16 (per-channel counts 8 .. 16384), plus large per-channel counts. Each op is timed by
 * `timeDispatches` (enough copies in one submit to outlast the wait, whose cost is subtracted); the best
 * milliseconds per op are printed when the benches end.
 *
 * Environment: NORM_BENCH_LARGE (default 1; 0 skips the large shapes, which take long on a CPU driver).
 *
 * @module
 */

import { Gpu } from "../src/gpu/device.ts";
import { type Dispatch, numel, type Tensor, tensor } from "../src/gpu/kernel.ts";
import { batchNormBackward, type BatchNormShape, batchNormTrain } from "../src/ops/batchnorm.ts";
import { globalAvgPoolBackward, globalAvgPoolForward } from "../src/ops/pool.ts";
import { benchFastest } from "./_util.ts";

const LARGE = Deno.env.get("NORM_BENCH_LARGE") !== "0";

const gpu = await Gpu.create();
console.log(`adapter: ${gpu.adapter.description}`);

const fastest = new Map<string, number>();

function make(label: string, shape: number[], fill = 0): Tensor {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = fill + Math.sin(i * 0.37);
  return tensor(gpu.upload(label, data), shape);
}

function bench(group: string, name: string, dispatches: Dispatch[]): void {
  benchFastest(gpu, fastest, { name, group, dispatches });
}

const shapes: Array<[string, BatchNormShape]> = [
  ["imagenet stem 32x32 b8: stem", { batch: 8, channels: 64, spatial: 16 * 16 }],
  ["imagenet stem 32x32 b8: layer1", { batch: 8, channels: 64, spatial: 8 * 8 }],
  ["imagenet stem 32x32 b8: layer2", { batch: 8, channels: 128, spatial: 4 * 4 }],
  ["imagenet stem 32x32 b8: layer3", { batch: 8, channels: 256, spatial: 2 * 2 }],
  ["imagenet stem 32x32 b8: layer4", { batch: 8, channels: 512, spatial: 1 }],
  ["cifar stem b16: layer1", { batch: 16, channels: 64, spatial: 32 * 32 }],
  ["cifar stem b16: layer2", { batch: 16, channels: 128, spatial: 16 * 16 }],
  ["cifar stem b16: layer3", { batch: 16, channels: 256, spatial: 8 * 8 }],
  ["cifar stem b16: layer4", { batch: 16, channels: 512, spatial: 4 * 4 }],
  ["imagenet 7x7 b8: layer4", { batch: 8, channels: 512, spatial: 7 * 7 }],
];
if (LARGE) {
  shapes.push(
    ["imagenet 224 b2: stem", { batch: 2, channels: 64, spatial: 112 * 112 }],
    ["1M per channel", { batch: 16, channels: 4, spatial: 256 * 256 }],
  );
}

for (const [name, s] of shapes) {
  const shape = [s.batch, s.channels, s.spatial];
  const vector = (label: string, fill: number) => make(label, [s.channels], fill);
  const input = make("x", shape, 3), output = make("y", shape), gradOutput = make("dy", shape);
  const weight = vector("w", 1.5), savedMean = vector("mean", 0), savedInvStd = vector("invstd", 0);
  const forward = batchNormTrain(
    gpu,
    s,
    {
      input,
      output,
      weight,
      bias: vector("b", 0),
      runningMean: vector("m", 0),
      runningVar: vector("v", 1),
      savedMean,
      savedInvStd,
    },
    { eps: 1e-5, momentum: 0.1, relu: true },
    name,
  );
  const backward = batchNormBackward(
    gpu,
    s,
    {
      input,
      output,
      gradOutput,
      weight,
      savedMean,
      savedInvStd,
      gradInput: make("dx", shape),
      gradWeight: vector("dw", 0),
      gradBias: vector("db", 0),
    },
    { relu: true },
    name,
  );
  const label = `[${shape.join(", ")}] ${name}`;
  bench("batch norm train forward", `bn forward ${label}`, forward);
  bench("batch norm backward", `bn backward ${label}`, backward);
}

for (const [planes, spatial] of [[8 * 512, 1], [16 * 512, 16], [8 * 512, 49], [8 * 64, 112 * 112]]) {
  if (!LARGE && spatial > 1000) continue;
  const input = make("x", [planes, spatial]), output = make("y", [planes]);
  const gradInput = make("dx", [planes, spatial]);
  const s = { planes, spatial };
  const label = `[${planes}, ${spatial}]`;
  bench(
    "global average pool",
    `avgpool forward ${label}`,
    globalAvgPoolForward(gpu, s, { input, output }, label),
  );
  bench(
    "global average pool",
    `avgpool backward ${label}`,
    globalAvgPoolBackward(gpu, s, { gradOutput: output, gradInput }, label),
  );
}

globalThis.addEventListener("unload", () => {
  console.log("\nms per op (best iteration):");
  for (const [name, ms] of fastest) console.log(`${ms.toFixed(3).padStart(9)} ms  ${name}`);
});
