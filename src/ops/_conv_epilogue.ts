/**
 * The forward epilogue of a convolution (`shaders/conv2d_epilogue.wgsl`): what happens to each result
 * before it is stored. A bias, or an eval-mode BatchNorm folded in, then a residual added, then ReLU; one
 * mechanism for the direct, dense and Winograd kernels, so that inference runs a ResNet block as its
 * convolutions alone.
 *
 * @module
 */

import type { Tensor } from "../gpu/kernel.ts";

/** An eval-mode `nn.BatchNorm2d` applied to a convolution's output, `[outChannels]` tensors. */
export interface FoldedNorm {
  /** BatchNorm's weight (gamma). */
  weight: Tensor;
  /** BatchNorm's bias (beta). */
  bias: Tensor;
  /** Its running mean. */
  runningMean: Tensor;
  /** Its running variance. */
  runningVar: Tensor;
  /** Added to the variance before its square root. */
  eps: number;
}

/** What a convolution's forward pass applies to its results, in this order; all optional. */
export interface ConvEpilogue {
  /** A per-output-channel bias (not together with `norm`). */
  bias?: Tensor;
  /** A BatchNorm in eval mode. */
  norm?: FoldedNorm;
  /** A tensor of the output's shape added next. */
  residual?: Tensor;
  /** ReLU last. */
  relu?: boolean;
}

/**
 * How a kernel runs `e`: the suffix of its entry point (`""`, `"_bias"` or `"_norm"`), its constants and
 * its bindings. An absent residual is bound to `standIn`, a tensor the dispatch only reads (the pipeline
 * is compiled without the read), so that nothing is allocated. `rowsPerChannel` is the number of
 * consecutive GEMM rows per output channel (a dense matrix's pixels; 1 otherwise).
 */
export function epilogueKernel(
  e: ConvEpilogue,
  standIn: Tensor,
  label: string,
  rowsPerChannel = 1,
): { suffix: "" | "_bias" | "_norm"; constants: Record<string, number>; bindings: Record<string, Tensor> } {
  if (e.bias && e.norm) throw new Error(`${label}: a convolution bias cannot be fused with a BatchNorm`);
  const constants = {
    RESIDUAL: e.residual ? 1 : 0,
    RELU: e.relu ? 1 : 0,
    ROWS_PER_CHANNEL: rowsPerChannel,
    NORM_EPS: e.norm?.eps ?? 0,
  };
  const residual = e.residual ?? standIn;
  if (e.norm) {
    const { weight, bias, runningMean, runningVar } = e.norm;
    return {
      suffix: "_norm",
      constants,
      bindings: { residual, normWeight: weight, normBias: bias, runningMean, runningVar },
    };
  }
  if (e.bias) return { suffix: "_bias", constants, bindings: { residual, bias: e.bias } };
  return { suffix: "", constants, bindings: { residual } };
}
