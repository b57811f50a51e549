/**
 * Plain CPU reference of 2-D convolution in float64 (PyTorch's `nn.Conv2d` semantics: NCHW, weights
 * `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`, zero padding, stride, dilation, groups).
 * Slow and simple on purpose: it is what the WGSL kernels are checked against.
 *
 * @module
 */

import type { Conv2dGeometry } from "../../src/ops/conv2d.ts";

/** Calls `visit` for every (output element, weight element, input element) triple that contributes. */
function forEachTap(
  g: Conv2dGeometry,
  visit: (outIndex: number, weightIndex: number, inIndex: number) => void,
): void {
  const cgIn = g.inChannels / g.groups;
  const cgOut = g.outChannels / g.groups;
  for (let n = 0; n < g.batch; n++) {
    for (let oc = 0; oc < g.outChannels; oc++) {
      const group = Math.floor(oc / cgOut);
      for (let oy = 0; oy < g.outHeight; oy++) {
        for (let ox = 0; ox < g.outWidth; ox++) {
          const outIndex = ((n * g.outChannels + oc) * g.outHeight + oy) * g.outWidth + ox;
          for (let c = 0; c < cgIn; c++) {
            const ic = group * cgIn + c;
            for (let ky = 0; ky < g.kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padHeight + ky * g.dilationHeight;
              if (iy < 0 || iy >= g.inHeight) continue;
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padWidth + kx * g.dilationWidth;
                if (ix < 0 || ix >= g.inWidth) continue;
                const weightIndex = ((oc * cgIn + c) * g.kernelHeight + ky) * g.kernelWidth + kx;
                const inIndex = ((n * g.inChannels + ic) * g.inHeight + iy) * g.inWidth + ix;
                visit(outIndex, weightIndex, inIndex);
              }
            }
          }
        }
      }
    }
  }
}

/**
 * `output[n, oc, oy, ox] = bias[oc] + sum of weight[oc, c, ky, kx] * input[n, g*C/groups + c, iy, ix]`
 * with `iy = oy * strideHeight - padHeight + ky * dilationHeight` (likewise for x), zero outside the input.
 *
 * @param input `[batch, inChannels, inHeight, inWidth]`
 * @param weight `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`
 * @param bias `[outChannels]`, or undefined for none
 * @returns `[batch, outChannels, outHeight, outWidth]`
 */
export function conv2dForwardReference(
  input: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  g: Conv2dGeometry,
): Float64Array {
  const output = new Float64Array(g.batch * g.outChannels * g.outHeight * g.outWidth);
  if (bias) {
    const pixels = g.outHeight * g.outWidth;
    for (let i = 0; i < output.length; i++) output[i] = bias[Math.floor(i / pixels) % g.outChannels];
  }
  forEachTap(g, (o, w, x) => {
    output[o] += weight[w] * input[x];
  });
  return output;
}

/**
 * Gradient of a loss with respect to the convolution's input, given `gradOutput` (its gradient with
 * respect to the output): the transpose of {@linkcode conv2dForwardReference}'s map.
 *
 * @param gradOutput `[batch, outChannels, outHeight, outWidth]`
 * @param weight `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`
 * @returns `[batch, inChannels, inHeight, inWidth]`
 */
export function conv2dBackwardDataReference(
  gradOutput: ArrayLike<number>,
  weight: ArrayLike<number>,
  g: Conv2dGeometry,
): Float64Array {
  const gradInput = new Float64Array(g.batch * g.inChannels * g.inHeight * g.inWidth);
  forEachTap(g, (o, w, x) => {
    gradInput[x] += weight[w] * gradOutput[o];
  });
  return gradInput;
}

/**
 * Gradients of a loss with respect to the convolution's weight and bias, given the layer's `input` and
 * `gradOutput`, summed over the batch.
 *
 * @param input `[batch, inChannels, inHeight, inWidth]`
 * @param gradOutput `[batch, outChannels, outHeight, outWidth]`
 * @returns `gradWeight` `[outChannels, inChannels / groups, kernelHeight, kernelWidth]` and `gradBias`
 * `[outChannels]`
 */
export function conv2dBackwardWeightReference(
  input: ArrayLike<number>,
  gradOutput: ArrayLike<number>,
  g: Conv2dGeometry,
): { gradWeight: Float64Array; gradBias: Float64Array } {
  const gradWeight = new Float64Array(
    g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth,
  );
  forEachTap(g, (o, w, x) => {
    gradWeight[w] += input[x] * gradOutput[o];
  });
  const gradBias = new Float64Array(g.outChannels);
  const pixels = g.outHeight * g.outWidth;
  for (let i = 0; i < gradOutput.length; i++) {
    gradBias[Math.floor(i / pixels) % g.outChannels] += gradOutput[i];
  }
  return { gradWeight, gradBias };
}
