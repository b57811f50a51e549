/**
 * Float64 CPU references of `nn.MaxPool2d` (with PyTorch's indices) and `nn.AdaptiveAvgPool2d(1)`, forward
 * and backward. Tensors are NCHW.
 *
 * @module
 */

import type { MaxPool2dGeometry } from "../../src/ops/pool.ts";

/** What {@linkcode maxPool2dReference} returns. */
export interface MaxPool2dReference {
  /** `[N, C, outHeight, outWidth]`. */
  output: Float64Array;
  /** Shaped like `output`: the index of each maximum within its `inHeight * inWidth` plane. */
  indices: Uint32Array;
}

/**
 * `max_pool2d_with_indices`: each output is the largest input in its window (padding never wins); on ties
 * the first in row-major window order wins, as PyTorch.
 *
 * @example
 * ```ts
 * const g = { batch: 1, channels: 1, inHeight: 2, inWidth: 2, kernelHeight: 2, kernelWidth: 2,
 *   strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0, dilationHeight: 1, dilationWidth: 1,
 *   outHeight: 1, outWidth: 1 };
 * const { output, indices } = maxPool2dReference([1, 4, 3, 2], g); // [4], [1]
 * ```
 */
export function maxPool2dReference(input: ArrayLike<number>, g: MaxPool2dGeometry): MaxPool2dReference {
  const planes = g.batch * g.channels;
  const inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth;
  const output = new Float64Array(planes * outPlane);
  const indices = new Uint32Array(planes * outPlane);
  for (let plane = 0; plane < planes; plane++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        let best = -Infinity, bestIndex = -1;
        for (let kh = 0; kh < g.kernelHeight; kh++) {
          const ih = oh * g.strideHeight - g.padHeight + kh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let kw = 0; kw < g.kernelWidth; kw++) {
            const iw = ow * g.strideWidth - g.padWidth + kw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            const v = input[plane * inPlane + ih * g.inWidth + iw];
            if (bestIndex < 0 || v > best) {
              best = v;
              bestIndex = ih * g.inWidth + iw;
            }
          }
        }
        output[plane * outPlane + oh * g.outWidth + ow] = best;
        indices[plane * outPlane + oh * g.outWidth + ow] = bestIndex;
      }
    }
  }
  return { output, indices };
}

/** Max pool's gradient: each output gradient added to the input its index names. */
export function maxPool2dBackwardReference(
  gradOutput: ArrayLike<number>,
  indices: ArrayLike<number>,
  g: MaxPool2dGeometry,
): Float64Array {
  const inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth;
  const gradInput = new Float64Array(g.batch * g.channels * inPlane);
  for (let i = 0; i < gradOutput.length; i++) {
    gradInput[Math.floor(i / outPlane) * inPlane + indices[i]] += gradOutput[i];
  }
  return gradInput;
}

/** `AdaptiveAvgPool2d(1)`: the mean of each of `planes` consecutive runs of `spatial` values. */
export function globalAvgPoolReference(
  input: ArrayLike<number>,
  planes: number,
  spatial: number,
): Float64Array {
  const output = new Float64Array(planes);
  for (let plane = 0; plane < planes; plane++) {
    let sum = 0;
    for (let i = 0; i < spatial; i++) sum += input[plane * spatial + i];
    output[plane] = sum / spatial;
  }
  return output;
}

/** The global average pool's gradient: each plane's output gradient spread evenly over its inputs. */
export function globalAvgPoolBackwardReference(gradOutput: ArrayLike<number>, spatial: number): Float64Array {
  const gradInput = new Float64Array(gradOutput.length * spatial);
  for (let i = 0; i < gradInput.length; i++) gradInput[i] = gradOutput[Math.floor(i / spatial)] / spatial;
  return gradInput;
}
