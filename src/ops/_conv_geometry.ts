/**
 * The sizes of a convolution, shared by the public {@link ./conv2d.ts} and {@link ./linear.ts} and by every
 * internal `_conv_*` file, which therefore import this file instead of the public ones.
 *
 * @module
 */

import type { Window2d, WindowGeometry } from "./_window.ts";

/** Every size of one convolution, as `conv2dGeometry` computes it. */
export interface Conv2dGeometry extends WindowGeometry {
  /** Images per batch (N). */
  batch: number;
  /** Input channels (C). */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Channel groups; input and output channels are both divisible by it. */
  groups: number;
}

/** A convolution's hyper-parameters, as `nn.Conv2d` takes them (each pair is `[height, width]`). */
export interface Conv2dOptions extends Window2d {
  /** Output channels. */
  outChannels: number;
  /** Channel groups. */
  groups: number;
}

/** Sizes of a fully connected layer. */
export interface LinearSizes {
  /** Rows of the input. */
  batch: number;
  /** Features per input row. */
  inFeatures: number;
  /** Features per output row. */
  outFeatures: number;
}

/** The 1x1 convolution over 1x1 images that a fully connected layer of sizes `s` is (validated). */
export function asConvolution(s: LinearSizes): Conv2dGeometry {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`linear: ${name} must be a positive integer, got ${value}`);
    }
  }
  return {
    batch: s.batch,
    inChannels: s.inFeatures,
    inHeight: 1,
    inWidth: 1,
    outChannels: s.outFeatures,
    kernelHeight: 1,
    kernelWidth: 1,
    strideHeight: 1,
    strideWidth: 1,
    padHeight: 0,
    padWidth: 0,
    dilationHeight: 1,
    dilationWidth: 1,
    groups: 1,
    outHeight: 1,
    outWidth: 1,
  };
}
