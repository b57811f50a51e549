import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { conv2dGeometry, defaultConvTuning, UNTUNED } from "../../src/ops/conv2d.ts";
import { FALLBACK_REFERENCE } from "../../src/ops/_conv_defaults.ts";
import { GEMM_KINDS, gemmTiling, slidesWindow, suitsAdapter } from "../../src/ops/_conv_strategy.ts";
import { winogradTile } from "../../src/ops/_conv_winograd.ts";
import { resnet20 } from "../../src/models/resnet.ts";
import { TrainingStep } from "../../src/compile/training.ts";
import { randomArray, relativeError, testGpu } from "../_gpu.ts";

const conv3x3 = (outChannels: number) => ({
  outChannels,
  kernelSize: [3, 3] as [number, number],
  stride: [1, 1] as [number, number],
  padding: [1, 1] as [number, number],
  dilation: [1, 1] as [number, number],
  groups: 1,
});

/** `gpu` as another adapter would show it: its class and its limits. */
function like(gpu: Gpu, isFallbackAdapter: boolean, limits: Partial<GPUSupportedLimits> = {}): Gpu {
  // WebGPU's limits are getters on the prototype, which a spread does not copy.
  const own: Record<string, number> = {};
  for (const name in gpu.limits) own[name] = gpu.limits[name as keyof GPUSupportedLimits] as number;
  return { adapter: { isFallbackAdapter }, limits: { ...own, ...limits } } as unknown as Gpu;
}

Deno.test("conv defaults: a fallback adapter gets the reference measurements, others the untuned ranking", async () => {
  const gpu = like(await testGpu(), true);
  const fallback = defaultConvTuning(gpu);
  for (const kind of GEMM_KINDS) {
    assert.deepEqual(fallback.results?.[kind], FALLBACK_REFERENCE.results?.[kind], kind);
    assert.ok(fallback.results![kind]!.every(({ tiling }) => !slidesWindow(tiling)), kind);
  }
  assert.equal(fallback.dispatchMs, FALLBACK_REFERENCE.dispatchMs);
  assert.equal(fallback.adapterKey, undefined);
  // The measurements choose the 4x4 tiles for a large layer in every pass, and the 16x16 register tiles,
  // which the untuned ranking (at most 8x8 values per invocation) never takes.
  const layer = conv2dGeometry([16, 64, 32, 32], conv3x3(64));
  for (const pass of ["forward", "backwardData", "backwardWeight"] as const) {
    assert.equal(winogradTile(gpu, fallback, layer, pass), 4, pass);
  }
  const big = { rows: 256, columns: 4096, depth: 2304 };
  assert.equal(gemmTiling(gpu, fallback, "forward", big).rows, 16);
  assert.ok(gemmTiling(gpu, UNTUNED, "forward", big).rows < 16);
  assert.equal(defaultConvTuning(like(gpu, false)), UNTUNED);
});

Deno.test("conv defaults: tilings beyond an adapter's limits are left out, and a kind left empty is unmeasured", async () => {
  const gpu = like(await testGpu(), true, { maxComputeWorkgroupSizeX: 4 });
  const tuning = defaultConvTuning(gpu);
  const forward = tuning.results!.forward!;
  assert.ok(forward.length > 0 && forward.length < FALLBACK_REFERENCE.results!.forward!.length);
  assert.ok(forward.every(({ tiling }) => suitsAdapter(gpu, tiling)));
  // backward-data's three reference tilings are 8 or 16 invocations wide.
  assert.equal(tuning.results!.backwardData, undefined);
  assert.ok(suitsAdapter(gpu, gemmTiling(gpu, tuning, "backwardData", { rows: 64, columns: 64, depth: 64 })));
});

Deno.test("conv defaults: a resnet20 step under the fallback default agrees with the direct one", async () => {
  const gpu = await testGpu();
  const batch = 4, inputShape = [3, 16, 16];
  const images = randomArray(batch * 3 * 16 * 16, 3);
  const steps = await Promise.all([UNTUNED, defaultConvTuning(like(gpu, true))].map(async (tuning) => {
    const model = resnet20({ seed: 0 });
    const step = await TrainingStep.compile(gpu, model, {
      batchSize: batch,
      inputShape,
      optimizer: { lr: 0.1 },
      tuning,
    });
    step.setBatch(images, [1, 4, 2, 8]);
    step.step();
    const p = model.namedParameters().find((p) => p.name === "layer1.0.conv1.weight")!;
    const g = step.model.gradient(p);
    return {
      loss: (await step.readStats()).loss,
      gradient: await gpu.readFloats(g.buffer, g.offset / 4, p.size),
    };
  }));
  const [direct, defaulted] = steps;
  // Winograd's 4x4 tiles round differently from the direct sums: about 2e-6 per convolution, which the
  // backward of 19 layers, each BatchNorm taking differences of near-equal sums, grows to 1.3e-2 in this
  // first layer's gradient (the loss: 4e-7).
  assert.ok(
    Math.abs(defaulted.loss - direct.loss) <= 1e-5 * direct.loss,
    `${defaulted.loss} vs ${direct.loss}`,
  );
  assert.ok(relativeError(defaulted.gradient, direct.gradient) <= 3e-2);
});
