/**
 * The one sliding-window geometry that convolution and pooling share: the hyper-parameters as PyTorch takes
 * them, PyTorch's output-size formula, and the per-axis sizes the kernels are specialised on.
 *
 * @module
 */

import { formatShape } from "./op.ts";

/** A window's hyper-parameters, as `nn.Conv2d` and `nn.MaxPool2d` take them (each pair `[height, width]`). */
export interface Window2d {
  /** Kernel size. */
  kernelSize: [number, number];
  /** Stride. */
  stride: [number, number];
  /** Padding on each side. */
  padding: [number, number];
  /** Spacing of the window's taps. */
  dilation: [number, number];
}

/** A window placed over an image: its sizes along both axes, the output included. */
export interface WindowGeometry {
  /** Input height (H). */
  inHeight: number;
  /** Input width (W). */
  inWidth: number;
  /** Kernel height. */
  kernelHeight: number;
  /** Kernel width. */
  kernelWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Padding above and below. */
  padHeight: number;
  /** Padding left and right. */
  padWidth: number;
  /** Vertical dilation. */
  dilationHeight: number;
  /** Horizontal dilation. */
  dilationWidth: number;
  /** Output height. */
  outHeight: number;
  /** Output width. */
  outWidth: number;
}

/**
 * WGSL overrides of `g`'s sizes (`IN_H`, `IN_W`, `OUT_H`, `OUT_W`, `K_H`, `K_W`, `STRIDE_H`, `STRIDE_W`,
 * `PAD_H`, `PAD_W`, `DIL_H`, `DIL_W`), the names every windowed kernel declares them by.
 */
export function windowConstants(g: WindowGeometry): Record<string, number> {
  return {
    IN_H: g.inHeight,
    IN_W: g.inWidth,
    OUT_H: g.outHeight,
    OUT_W: g.outWidth,
    K_H: g.kernelHeight,
    K_W: g.kernelWidth,
    STRIDE_H: g.strideHeight,
    STRIDE_W: g.strideWidth,
    PAD_H: g.padHeight,
    PAD_W: g.padWidth,
    DIL_H: g.dilationHeight,
    DIL_W: g.dilationWidth,
  };
}

/** The sizes of a window along one spatial axis. */
export interface Axis {
  /** Input size. */
  inSize: number;
  /** Output size. */
  outSize: number;
  /** Kernel size. */
  kernel: number;
  /** Stride. */
  stride: number;
  /** Padding on each side. */
  pad: number;
  /** Dilation. */
  dilation: number;
}

/**
 * Output size of a window along one axis, as PyTorch computes it (ceil_mode false):
 * `floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`.
 */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation: number,
): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Window `w` over an image of `inHeight` x `inWidth`; the output size may come out below 1 for the caller to reject. */
export function windowGeometry(inHeight: number, inWidth: number, w: Window2d): WindowGeometry {
  const out = (size: number, axis: number) =>
    windowOutputSize(size, w.kernelSize[axis], w.stride[axis], w.padding[axis], w.dilation[axis]);
  return {
    inHeight,
    inWidth,
    kernelHeight: w.kernelSize[0],
    kernelWidth: w.kernelSize[1],
    strideHeight: w.stride[0],
    strideWidth: w.stride[1],
    padHeight: w.padding[0],
    padWidth: w.padding[1],
    dilationHeight: w.dilation[0],
    dilationWidth: w.dilation[1],
    outHeight: out(inHeight, 0),
    outWidth: out(inWidth, 1),
  };
}

/** A pair as messages write it: `3` when both values are equal, else `(3, 1)`. */
export function formatPair(value: readonly [number, number]): string {
  return value[0] === value[1] ? `${value[0]}` : `(${value[0]}, ${value[1]})`;
}

/**
 * The output height and width of window `w` over a per-sample `[C, H, W]` input; throws naming the layer
 * when the input is too small for the window.
 */
export function windowOutputShape(
  name: string,
  kind: string,
  input: readonly number[],
  w: Window2d,
): [number, number] {
  const g = windowGeometry(input[1], input[2], w);
  if (g.outHeight < 1 || g.outWidth < 1) {
    const [kernel, stride, padding, dilation] = [w.kernelSize, w.stride, w.padding, w.dilation].map(
      formatPair,
    );
    throw new Error(
      `${name} (${kind}): input ${formatShape(input)} is too small for kernel ${kernel}, ` +
        `stride ${stride}, padding ${padding}, dilation ${dilation}`,
    );
  }
  return [g.outHeight, g.outWidth];
}

/** The sizes of `g` along its two spatial axes: vertical, then horizontal. */
export function axes(g: WindowGeometry): [Axis, Axis] {
  return [
    {
      inSize: g.inHeight,
      outSize: g.outHeight,
      kernel: g.kernelHeight,
      stride: g.strideHeight,
      pad: g.padHeight,
      dilation: g.dilationHeight,
    },
    {
      inSize: g.inWidth,
      outSize: g.outWidth,
      kernel: g.kernelWidth,
      stride: g.strideWidth,
      pad: g.padWidth,
      dilation: g.dilationWidth,
    },
  ];
}
