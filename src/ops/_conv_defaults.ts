/**
 * The convolution tuning a model compiles with when nothing was measured: a reference measurement for the
 * adapter's class, so that a user who never tunes still gets the algorithms and tilings that class favours.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import {
  type ConvTuning,
  type GemmKind,
  type GemmTiling,
  type MeasuredTiling,
  suitsAdapter,
  UNTUNED,
} from "./_conv_strategy.ts";

const wide: GemmTiling = { workgroupX: 16, workgroupY: 4, rows: 8, columnVectors: 2 };
const tall: GemmTiling = { workgroupX: 16, workgroupY: 1, rows: 16, columnVectors: 4 };
const square: GemmTiling = { workgroupX: 8, workgroupY: 4, rows: 16, columnVectors: 4 };
const narrow: GemmTiling = { workgroupX: 8, workgroupY: 1, rows: 16, columnVectors: 2 };

/**
 * The autotune's measurements on a software adapter: llvmpipe (LLVM 15, 256-bit vectors) through Vulkan on
 * 2 CPU cores, 2026-12-08, rounded. Only ratios matter to the choice: a faster CPU scales them all alike.
 * The sliding-window tilings are left out: each of their pipelines takes 1.4-1.9 s to create on llvmpipe,
 * which a short run never earns back, and Chromium's SwiftShader loses its device on them; with the GEMM
 * tilings and Winograd alone, resnet18, resnet20 and resnet50 steps came within 0.95-1.07x of the full
 * tuning (`bench/ab_bench.ts`, batch 64).
 */
export const FALLBACK_REFERENCE: ConvTuning = Object.freeze({
  results: Object.freeze({
    forward: rates([
      [wide, 6.9],
      [{ workgroupX: 16, workgroupY: 16, rows: 4, columnVectors: 1 }, 3.8],
      [tall, 8.4],
      [square, 9.4],
      [{ workgroupX: 4, workgroupY: 8, rows: 8, columnVectors: 2 }, 4.3],
      [{ workgroupX: 2, workgroupY: 8, rows: 8, columnVectors: 1 }, 1.9],
      [narrow, 7.6],
      [{ workgroupX: 16, workgroupY: 4, rows: 4, columnVectors: 4 }, 5.2],
      [{ workgroupX: 8, workgroupY: 8, rows: 4, columnVectors: 2 }, 5.0],
    ]),
    backwardData: rates([[tall, 10.6], [square, 10.2], [narrow, 5.3]]),
    backwardWeight: rates([[tall, 13.0], [square, 13.6], [narrow, 10.7]]),
    winograd: rates([[tall, 11.6], [square, 11.8], [narrow, 9.6]]),
  }),
  winogradTransformMsPerValue: 1.8e-6,
  winograd4TransformMsPerValue: 2.2e-6,
  dispatchMs: 0.027,
});

function rates(entries: [GemmTiling, number][]): readonly MeasuredTiling[] {
  return Object.freeze(entries.map(([tiling, gflops]) => Object.freeze({ tiling, gflops })));
}

/**
 * The tuning to compile with on `gpu` when nothing was measured: on a fallback adapter (a software
 * implementation on the CPU) the reference measurement of one, {@linkcode FALLBACK_REFERENCE}, less the
 * tilings beyond `gpu`'s limits; elsewhere {@linkcode UNTUNED}, as no GPU's figures are kept yet. The
 * autotune's own measurement (`tuneConvolutionsCached`) replaces it.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { defaultConvTuning } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const tuning = defaultConvTuning(gpu); // pass as `tuning` to TrainingStep.compile or Inference.compile
 * console.log(tuning.adapterKey); // undefined: not measured here
 * ```
 */
export function defaultConvTuning(gpu: Gpu): ConvTuning {
  if (!gpu.adapter.isFallbackAdapter) return UNTUNED;
  const results: Partial<Record<GemmKind, readonly MeasuredTiling[]>> = {};
  for (
    const [kind, measured] of Object.entries(FALLBACK_REFERENCE.results!) as [GemmKind, MeasuredTiling[]][]
  ) {
    const fitting = measured.filter(({ tiling }) => suitsAdapter(gpu, tiling));
    // A kind with no fitting tiling is left unmeasured, so that the untuned ranking picks one.
    if (fitting.length > 0) results[kind] = fitting;
  }
  return Object.freeze({ ...FALLBACK_REFERENCE, results: Object.freeze(results) });
}
