/**
 * How the convolution kernels tile their GEMMs on a given adapter: a default derived from the adapter's
 * limits, replaced by the result of {@linkcode tuneGemmTiling} once that has run for the adapter.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";

/** The three GEMMs a convolution or linear layer runs. */
export type GemmKind = "forward" | "backwardData" | "backwardWeight";

/** Register tiling of one GEMM kernel (the WGSL overrides of `shaders/conv2d_tile.wgsl`). */
export interface GemmTiling {
  /** Invocations per workgroup along the GEMM's columns (pixels or weight entries). */
  workgroupX: number;
  /** Invocations per workgroup along the GEMM's rows (channels). */
  workgroupY: number;
  /** Rows per invocation: 1, 2, 4 or 8. */
  rows: number;
  /** Groups of four columns per invocation: 1 or 2. */
  columnVectors: number;
}

/** The tilings the kernels support and the autotuner tries, best-known general choice first. */
export const TILING_CANDIDATES: readonly GemmTiling[] = [
  { workgroupX: 16, workgroupY: 4, rows: 8, columnVectors: 2 },
  { workgroupX: 64, workgroupY: 1, rows: 8, columnVectors: 2 },
  { workgroupX: 8, workgroupY: 8, rows: 8, columnVectors: 2 },
  { workgroupX: 32, workgroupY: 2, rows: 8, columnVectors: 2 },
  { workgroupX: 16, workgroupY: 4, rows: 4, columnVectors: 2 },
  { workgroupX: 16, workgroupY: 8, rows: 4, columnVectors: 1 },
  { workgroupX: 16, workgroupY: 16, rows: 4, columnVectors: 1 },
];

const tuned = new WeakMap<GPUDevice, Partial<Record<GemmKind, GemmTiling>>>();

/** WGSL override values of a tiling. */
export function tilingConstants(t: GemmTiling): Record<string, number> {
  return { WG_X: t.workgroupX, WG_Y: t.workgroupY, TM: t.rows, VN: t.columnVectors };
}

/** Rows and columns of the GEMM output that one workgroup of `t` covers. */
export function tileSize(t: GemmTiling): { rows: number; columns: number } {
  return { rows: t.rows * t.workgroupY, columns: 4 * t.columnVectors * t.workgroupX };
}

/** The tiling to use for `kind` on `gpu`: the tuned one if any, else the first candidate the limits allow. */
export function gemmTiling(gpu: Gpu, kind: GemmKind): GemmTiling {
  const chosen = tuned.get(gpu.device)?.[kind];
  if (chosen) return chosen;
  const fits = TILING_CANDIDATES.find((t) => fitsLimits(gpu, t));
  if (!fits) throw new Error("no convolution tiling fits this adapter's workgroup limits");
  return fits;
}

/** True when `t`'s workgroup is within the adapter's limits. */
export function fitsLimits(gpu: Gpu, t: GemmTiling): boolean {
  const l = gpu.limits;
  return t.workgroupX * t.workgroupY <= l.maxComputeInvocationsPerWorkgroup &&
    t.workgroupX <= l.maxComputeWorkgroupSizeX && t.workgroupY <= l.maxComputeWorkgroupSizeY;
}

/** Records the tiling the autotuner chose for `kind` on `gpu`; later plans use it. */
export function setGemmTiling(gpu: Gpu, kind: GemmKind, tiling: GemmTiling): void {
  const entry = tuned.get(gpu.device) ?? {};
  entry[kind] = tiling;
  tuned.set(gpu.device, entry);
}
