/**
 * The convolution ops over a whole batch: where an activation is larger than one storage binding may be,
 * the batch is cut into runs of images, each bound at a 256-byte aligned offset and run as its own GEMMs;
 * the weight gradients of the runs are then summed.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, type Tensor, tensor } from "../gpu/kernel.ts";
import {
  backwardDataDispatches,
  backwardWeightDispatches,
  biasGradientDispatch,
  dataSplitBytes,
  forwardDispatch,
  sumSlicesDispatch,
  weightSplitBytes,
} from "./_conv_kernels.ts";
import { mergeParts, opScratch, type Scratch, scratchPart } from "./_scratch.ts";
import type { Conv2dGeometry } from "./_conv_geometry.ts";
import type { ConvTuning } from "./_conv_strategy.ts";
import type { ConvEpilogue } from "./_conv_epilogue.ts";

/** A run of images of a batch: the first one's index and the geometry of the run. */
export interface BatchChunk {
  /** Index of the run's first image. */
  start: number;
  /** The convolution over the run's images only. */
  geometry: Conv2dGeometry;
}

const FLOATS_PER_ALIGNMENT = 64; // 256 bytes

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function imageFloats(g: Conv2dGeometry): { input: number; output: number } {
  return { input: g.inChannels * g.inHeight * g.inWidth, output: g.outChannels * g.outHeight * g.outWidth };
}

/**
 * Cuts `g`'s batch into runs whose input and output each fit `maxBindingBytes` and start at 256-byte
 * aligned offsets; one run when the whole batch fits.
 */
export function batchChunks(g: Conv2dGeometry, maxBindingBytes: number, label: string): BatchChunk[] {
  const per = imageFloats(g);
  const largest = Math.max(per.input, per.output) * 4;
  if (g.batch * largest <= maxBindingBytes) return [{ start: 0, geometry: g }];
  // Runs of a multiple of `align` images keep every run's offset a multiple of 256 bytes.
  const alignIn = FLOATS_PER_ALIGNMENT / gcd(per.input, FLOATS_PER_ALIGNMENT);
  const alignOut = FLOATS_PER_ALIGNMENT / gcd(per.output, FLOATS_PER_ALIGNMENT);
  const align = (alignIn * alignOut) / gcd(alignIn, alignOut);
  const images = Math.floor(maxBindingBytes / largest / align) * align;
  if (images < 1) {
    throw new Error(
      `${label}: ${align} images of ${largest} bytes each do not fit one storage binding ` +
        `(maxStorageBufferBindingSize ${maxBindingBytes})`,
    );
  }
  const chunks: BatchChunk[] = [];
  for (let start = 0; start < g.batch; start += images) {
    chunks.push({ start, geometry: { ...g, batch: Math.min(images, g.batch - start) } });
  }
  return chunks;
}

/** The part of a batch tensor `t` (images of `floatsPerImage` floats) that chunk `c` covers. */
export function chunkPart(t: Tensor, c: BatchChunk, floatsPerImage: number): Tensor {
  return tensor(t.buffer, [c.geometry.batch, ...t.shape.slice(1)], t.offset + c.start * floatsPerImage * 4);
}

/** The epilogue of the batch run `c` of a convolution whose output images hold `floatsPerImage` floats. */
export function chunkEpilogue(e: ConvEpilogue, c: BatchChunk, floatsPerImage: number): ConvEpilogue {
  return e.residual ? { ...e, residual: chunkPart(e.residual, c, floatsPerImage) } : e;
}

/** Forward over the whole batch (see `forwardDispatch`). */
export function forwardOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; weight: Tensor; output: Tensor },
  epilogue: ConvEpilogue,
  label: string,
  tuning: ConvTuning,
  options: { maxBindingBytes?: number; rowsPerChannel?: number } = {},
): Dispatch[] {
  const per = imageFloats(g);
  const maxBindingBytes = options.maxBindingBytes ?? gpu.limits.maxStorageBufferBindingSize;
  return batchChunks(g, maxBindingBytes, label).map((c) =>
    forwardDispatch(
      gpu,
      c.geometry,
      {
        weight: t.weight,
        input: chunkPart(t.input, c, per.input),
        output: chunkPart(t.output, c, per.output),
      },
      chunkEpilogue(epilogue, c, per.output),
      label,
      tuning,
      options.rowsPerChannel,
    )
  );
}

/** Scratch parts {@linkcode backwardDataOp} needs: the runs go one after another, so the largest run's. */
export function backwardDataOpParts(
  gpu: Gpu,
  g: Conv2dGeometry,
  tuning: ConvTuning,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): number[] {
  const chunks = batchChunks(g, maxBindingBytes, "backward-data scratch");
  return [Math.max(0, ...chunks.map((c) => dataSplitBytes(gpu, c.geometry, tuning)))];
}

/** Backward-data over the whole batch (see `backwardDataDispatches`). */
export function backwardDataOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor; scratch?: Scratch },
  label: string,
  tuning: ConvTuning,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): Dispatch[] {
  const per = imageFloats(g);
  const scratch = opScratch(gpu, t.scratch, backwardDataOpParts(gpu, g, tuning, maxBindingBytes), label);
  return batchChunks(g, maxBindingBytes, label).flatMap((c) =>
    backwardDataDispatches(
      gpu,
      c.geometry,
      {
        weight: t.weight,
        gradOutput: chunkPart(t.gradOutput, c, per.output),
        gradInput: chunkPart(t.gradInput, c, per.input),
        scratch,
      },
      label,
      tuning,
    )
  );
}

/** Floats of one run's slot of a summed gradient of `count` floats. */
function slotFloats(count: number): number {
  return Math.ceil(count / FLOATS_PER_ALIGNMENT) * FLOATS_PER_ALIGNMENT;
}

/**
 * Scratch parts {@linkcode backwardWeightOp} needs for the gradients `which` says: with several runs, the
 * weight gradient's run slots and the split-K scratch of the largest run; then, reusing the first part, the
 * bias gradient's run slots.
 */
export function backwardWeightOpParts(
  gpu: Gpu,
  g: Conv2dGeometry,
  which: { weight: boolean; bias: boolean },
  tuning: ConvTuning,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): number[] {
  const chunks = batchChunks(g, maxBindingBytes, "backward-weight scratch");
  const split = Math.max(0, ...chunks.map((c) => weightSplitBytes(gpu, c.geometry, tuning)));
  if (chunks.length === 1) return which.weight ? [split] : [];
  const weightCount = g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth;
  return mergeParts(
    which.weight ? [chunks.length * slotFloats(weightCount) * 4, split] : [],
    which.bias ? [chunks.length * slotFloats(g.outChannels) * 4] : [],
  );
}

/**
 * Weight and/or bias gradients over the whole batch, overwritten. With several runs, each run's
 * gradients go to a slot of the op's scratch (`t.scratch`, or a private buffer made here) and are then
 * summed.
 */
export function backwardWeightOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: {
    input: Tensor;
    gradOutput: Tensor;
    gradWeight?: Tensor;
    gradBias?: Tensor;
    scratch?: Scratch;
    deadTapsZeroed?: boolean;
  },
  labels: { weight: string; bias: string },
  tuning: ConvTuning,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): Dispatch[] {
  const per = imageFloats(g);
  const chunks = batchChunks(g, maxBindingBytes, labels.weight);
  const which = { weight: t.gradWeight !== undefined, bias: t.gradBias !== undefined };
  const parts = backwardWeightOpParts(gpu, g, which, tuning, maxBindingBytes);
  const scratch = opScratch(gpu, t.scratch, parts, labels.weight);
  const dispatches: Dispatch[] = [];
  const gradient = (
    total: Tensor,
    label: string,
    run: (c: BatchChunk, into: Tensor, split: Scratch) => Dispatch[],
  ) => {
    if (chunks.length === 1) {
      dispatches.push(...run(chunks[0], total, scratch));
      return;
    }
    const count = total.shape.reduce((a, b) => a * b, 1);
    const slot = slotFloats(count);
    const slots = scratchPart(scratch, 0, label);
    chunks.forEach((c, i) =>
      dispatches.push(
        ...run(c, tensor(slots.buffer, total.shape, slots.offset + i * slot * 4), scratch.slice(1)),
      )
    );
    dispatches.push(
      sumSlicesDispatch(
        gpu,
        { partial: slots, total },
        chunks.length,
        count,
        `${label} batch-run sum`,
        slot,
      ),
    );
  };
  if (t.gradWeight) {
    gradient(t.gradWeight, labels.weight, (c, into, split) =>
      backwardWeightDispatches(
        gpu,
        c.geometry,
        {
          input: chunkPart(t.input, c, per.input),
          gradOutput: chunkPart(t.gradOutput, c, per.output),
          gradWeight: into,
          scratch: split,
          // A run's slot is scratch, whose dead taps hold whatever was there.
          deadTapsZeroed: t.deadTapsZeroed && chunks.length === 1,
        },
        labels.weight,
        tuning,
      ));
  }
  if (t.gradBias) {
    gradient(t.gradBias, labels.bias, (c, into) => [
      biasGradientDispatch(
        gpu,
        c.geometry,
        { gradOutput: chunkPart(t.gradOutput, c, per.output), gradBias: into },
        labels.bias,
      ),
    ]);
  }
  return dispatches;
}
