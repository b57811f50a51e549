/**
 * Convolutions on images so small that each output pixel reaches only part of the kernel (a 3x3 kernel on
 * 2x2 pixels reaches 4 of its 9 taps from each pixel), computed as dense matrices over whole images. The
 * weight is unrolled into the matrix that maps an image's `inChannels * H * W` inputs to its
 * `outChannels * H' * W'` outputs, so each pass is one GEMM of a 1x1 convolution over
 * `[batch, inChannels * H * W, 1, 1]`, with no padding taps and no bounds tests: the forward pass, its
 * transpose for backward-data, and for backward-weight a GEMM whose result is folded back onto the taps.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { compose, type Dispatch, grid, kernel, type Tensor, tensor } from "../gpu/kernel.ts";
import {
  backwardDataOp,
  backwardDataOpParts,
  backwardWeightOp,
  backwardWeightOpParts,
  batchChunks,
  forwardOp,
} from "./_conv_chunks.ts";
import { backwardDataDispatches, dataSplits, geometryConstants, liveTapCount } from "./_conv_kernels.ts";
import { asConvolution, type Conv2dGeometry } from "./_conv_geometry.ts";
import type { ConvTuning } from "./_conv_strategy.ts";
import { opScratch, type Scratch, scratchPart } from "./_scratch.ts";
import type { ConvEpilogue } from "./_conv_epilogue.ts";
import geometrySource from "../../shaders/conv2d_geometry.wgsl" with { type: "text" };
import denseSource from "../../shaders/conv2d_dense.wgsl" with { type: "text" };

const DENSE = compose(geometrySource, denseSource);
/** Largest unrolled weight, in bytes: beyond it the direct kernels are used. */
const MAX_UNROLLED_BYTES = 32 * 2 ** 20;
function unrolledCount(g: Conv2dGeometry): number {
  return g.outChannels * g.outHeight * g.outWidth * g.inChannels * g.inHeight * g.inWidth;
}

/**
 * True when `g` takes fewer multiply-adds as a dense matrix than over its live taps: each output pixel then
 * pairs with every input pixel, which is less work when an image has fewer pixels than the live taps.
 */
export function denseApplies(g: Conv2dGeometry): boolean {
  return g.groups === 1 && g.inHeight * g.inWidth < liveTapCount(g) &&
    unrolledCount(g) * 4 <= MAX_UNROLLED_BYTES;
}

/**
 * Scratch parts a dense pass of `g` needs: the unrolled weight (or its gradient), then the parts of the
 * GEMM over it.
 */
export function denseScratchParts(
  gpu: Gpu,
  g: Conv2dGeometry,
  pass: "forward" | "backwardData" | "backwardWeight",
  tuning: ConvTuning,
): number[] {
  const d = denseGeometry(g);
  const matrix = unrolledCount(g) * 4;
  if (pass === "forward") return [matrix];
  if (pass === "backwardData") return [matrix, ...backwardDataOpParts(gpu, d, tuning)];
  return [matrix, ...backwardWeightOpParts(gpu, d, { weight: true, bias: false }, tuning)];
}

/** Shape of the unrolled weight of `g`: `[outChannels * H' * W', inChannels * H * W, 1, 1]`. */
export function unrolledWeightShape(g: Conv2dGeometry): number[] {
  const d = denseGeometry(g);
  return [d.outChannels, d.inChannels, 1, 1];
}

/**
 * Partial sums that {@linkcode denseBackwardDataOp} leaves with `unsummed`: its GEMM's split over the
 * output features, or 1 when the batch takes several runs.
 */
export function denseBackwardDataSplits(gpu: Gpu, g: Conv2dGeometry, tuning: ConvTuning): number {
  const d = denseGeometry(g);
  if (batchChunks(d, gpu.limits.maxStorageBufferBindingSize, "backward-data").length > 1) return 1;
  return dataSplits(gpu, d, tuning);
}

/** The 1x1 convolution over whole images (a fully connected layer) that `g` is as a dense matrix. */
function denseGeometry(g: Conv2dGeometry): Conv2dGeometry {
  return asConvolution({
    batch: g.batch,
    inFeatures: g.inChannels * g.inHeight * g.inWidth,
    outFeatures: g.outChannels * g.outHeight * g.outWidth,
  });
}

/** `t` seen with the dense geometry's shape `[batch, channels, 1, 1]`: the same floats. */
function asImages(t: Tensor, channels: number): Tensor {
  return tensor(t.buffer, [t.shape[0], channels, 1, 1], t.offset);
}

/** `unroll` or `fold` of conv2d_dense.wgsl: an invocation per (output channel, input channel) pair. */
function denseKernel(
  gpu: Gpu,
  g: Conv2dGeometry,
  entryPoint: "unroll" | "fold",
  t: { source: Tensor; result: Tensor },
  label: string,
) {
  return kernel(gpu, {
    label,
    code: DENSE,
    entryPoint,
    constants: geometryConstants(g),
    bindings: t,
    workgroups: grid(g.outChannels * g.inChannels, 64),
  });
}

/** `storage` seen as the unrolled weight of `g`. */
function asMatrix(g: Conv2dGeometry, storage: Tensor): Tensor {
  return tensor(storage.buffer, unrolledWeightShape(g), storage.offset);
}

/** The unrolled weight of `g` in `into`, or else in part 0 of `scratch`, and the dispatch that writes it. */
function unrolled(
  gpu: Gpu,
  g: Conv2dGeometry,
  weight: Tensor,
  scratch: Scratch,
  label: string,
  into?: Tensor,
): { matrix: Tensor; write: Dispatch } {
  const matrix = asMatrix(g, into ?? scratchPart(scratch, 0, label));
  return {
    matrix,
    write: denseKernel(gpu, g, "unroll", { source: weight, result: matrix }, `${label} unroll`),
  };
}

/**
 * Forward pass of `g` as a dense matrix: unroll the weight (into `t.unrolledWeight` when given, for
 * backward-data to read, else into scratch), then one GEMM, whose rows are (channel, pixel) pairs, so the
 * epilogue's channel is a row over the pixels per channel.
 */
export function denseForwardOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; weight: Tensor; output: Tensor; scratch?: Scratch; unrolledWeight?: Tensor },
  epilogue: ConvEpilogue,
  label: string,
  tuning: ConvTuning,
): Dispatch[] {
  const d = denseGeometry(g);
  const parts = t.unrolledWeight ? [] : denseScratchParts(gpu, g, "forward", tuning);
  const scratch = opScratch(gpu, t.scratch, parts, label);
  const { matrix, write } = unrolled(gpu, g, t.weight, scratch, label, t.unrolledWeight);
  const images = {
    input: asImages(t.input, d.inChannels),
    weight: matrix,
    output: asImages(t.output, d.outChannels),
  };
  const residual = epilogue.residual && asImages(epilogue.residual, d.outChannels);
  return [
    write,
    ...forwardOp(gpu, d, images, { ...epilogue, residual }, label, tuning, {
      rowsPerChannel: g.outHeight * g.outWidth,
    }),
  ];
}

/**
 * Backward-data of `g` as a dense matrix: unroll the weight (or read `t.unrolledWeight`, which the forward
 * pass wrote), then the transposed GEMM. With `o.unsummed`, a split GEMM leaves its
 * {@linkcode denseBackwardDataSplits} partial sums in `gradInput`.
 */
export function denseBackwardDataOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { gradOutput: Tensor; weight: Tensor; gradInput: Tensor; scratch?: Scratch; unrolledWeight?: Tensor },
  label: string,
  tuning: ConvTuning,
  o: { unsummed?: boolean } = {},
): Dispatch[] {
  const d = denseGeometry(g);
  const [matrixBytes, ...gemmParts] = denseScratchParts(gpu, g, "backwardData", tuning);
  const parts = [t.unrolledWeight ? 0 : matrixBytes, ...(o.unsummed ? [] : gemmParts)];
  const scratch = opScratch(gpu, t.scratch, parts, label);
  const gradOutput = asImages(t.gradOutput, d.outChannels);
  const unroll = t.unrolledWeight ? undefined : unrolled(gpu, g, t.weight, scratch, label);
  const weight = unroll?.matrix ?? asMatrix(g, t.unrolledWeight!);
  const gemm = o.unsummed
    ? backwardDataDispatches(
      gpu,
      d,
      // The partial sums lie one after another, each in the dense geometry's layout, which is NCHW's.
      { gradOutput, weight, gradInput: t.gradInput },
      label,
      tuning,
      { unsummed: true },
    )
    : backwardDataOp(
      gpu,
      d,
      { gradOutput, weight, gradInput: asImages(t.gradInput, d.inChannels), scratch: scratch.slice(1) },
      label,
      tuning,
    );
  return [...(unroll ? [unroll.write] : []), ...gemm];
}

/** Backward-weight of `g` as a dense matrix: the unrolled weight's gradient, folded back onto the taps. */
export function denseBackwardWeightOp(
  gpu: Gpu,
  g: Conv2dGeometry,
  t: { input: Tensor; gradOutput: Tensor; gradWeight: Tensor; scratch?: Scratch },
  label: string,
  tuning: ConvTuning,
): Dispatch[] {
  const d = denseGeometry(g);
  const scratch = opScratch(gpu, t.scratch, denseScratchParts(gpu, g, "backwardWeight", tuning), label);
  const part = scratchPart(scratch, 0, label);
  const gradMatrix = tensor(part.buffer, [d.outChannels, d.inChannels, 1, 1], part.offset);
  const gemm = backwardWeightOp(
    gpu,
    d,
    {
      input: asImages(t.input, d.inChannels),
      gradOutput: asImages(t.gradOutput, d.outChannels),
      gradWeight: gradMatrix,
      scratch: scratch.slice(1),
    },
    { weight: label, bias: label },
    tuning,
  );
  const fold = denseKernel(gpu, g, "fold", { source: gradMatrix, result: t.gradWeight }, `${label} fold`);
  return [...gemm, fold];
}
