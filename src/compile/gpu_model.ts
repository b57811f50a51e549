/**
 * A model's parameters and buffers on the GPU. Parameters live in one flat buffer: trainable ones first,
 * grouped by optimizer group so each group is one contiguous range (one optimizer dispatch per group), then
 * frozen ones. BatchNorm's running statistics live in a second buffer, because WebGPU forbids binding one
 * buffer both read-only and writable in a dispatch (BatchNorm reads its weight while updating its
 * statistics). Gradients mirror the trainable prefix.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/kernel.ts";
import type { Module } from "../nn/module.ts";
import type { Parameter } from "../nn/parameter.ts";
import type { StateDict } from "../io/state_dict.ts";

/** Floats per alignment unit: every tensor starts at a multiple of 256 bytes so it can be bound alone. */
const ALIGN = 64;
const aligned = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A contiguous range of trainable parameters that share optimizer settings. */
export interface ParameterRange {
  /** First float. */
  offset: number;
  /** Floats in the range (padding included). */
  length: number;
  /** The parameters in it. */
  members: Parameter[];
}

/**
 * A model's parameters living on the GPU.
 *
 * @example
 * ```ts
 * import { Gpu, GpuModel, resnet20 } from "@denogpu/resnet";
 * const model = resnet20();
 * const onGpu = GpuModel.create(await Gpu.create(), model);
 * const fc = onGpu.view(model.fc.weight); // { buffer, offset, shape: [10, 64] }
 * await onGpu.download(); // the GPU's values back into model's parameters
 * ```
 */
export class GpuModel {
  /** The GPU. */
  readonly gpu: Gpu;
  /** The host model whose {@linkcode Parameter}s this mirrors. */
  readonly model: Module;
  /** All parameters. */
  readonly values: GPUBuffer;
  /** Floating-point buffers (BatchNorm's running statistics). */
  readonly buffers: GPUBuffer;
  /**
   * Gradients of the trainable parameters (same offsets as in {@linkcode values}); zero at first, and each
   * parameter's range is written only by its layer's backward (which may leave entries that are always zero
   * unwritten).
   */
  readonly gradients: GPUBuffer;
  /** One range per optimizer group, in order. */
  readonly groups: ParameterRange[];
  /** Floats covered by the trainable ranges. */
  readonly trainableLength: number;
  readonly #offsets: Map<Parameter, number>;
  readonly #bufferOffsets: Map<Parameter, number>;

  private constructor(gpu: Gpu, model: Module, layout: Layout, gradients?: GPUBuffer) {
    this.gpu = gpu;
    this.model = model;
    this.groups = layout.groups;
    this.trainableLength = layout.trainableLength;
    this.#offsets = layout.offsets;
    this.#bufferOffsets = layout.bufferOffsets;
    this.values = gpu.buffer("parameters", layout.valueFloats * 4);
    this.buffers = gpu.buffer("buffers", layout.bufferFloats * 4);
    this.gradients = gradients ?? gpu.buffer("gradients", Math.max(ALIGN, this.trainableLength) * 4);
  }

  /**
   * Lays out and uploads `model`'s parameters. `groupOf` maps each trainable parameter to an optimizer
   * group in `[0, groupCount)` (all in group 0 by default).
   */
  static create(
    gpu: Gpu,
    model: Module,
    groupOf: (p: Parameter) => number = () => 0,
    groupCount = 1,
  ): GpuModel {
    const onGpu = new GpuModel(gpu, model, layoutOf(model, groupOf, groupCount));
    onGpu.upload();
    return onGpu;
  }

  /**
   * Parameters and buffers of their own with this model's layout, starting as a GPU copy of these (e.g. an
   * exponential moving average of the weights); the gradients buffer is shared, never written through
   * the copy.
   */
  mirror(): GpuModel {
    const copy = new GpuModel(this.gpu, this.model, {
      groups: this.groups,
      trainableLength: this.trainableLength,
      offsets: this.#offsets,
      bufferOffsets: this.#bufferOffsets,
      valueFloats: this.values.size / 4,
      bufferFloats: this.buffers.size / 4,
    }, this.gradients);
    const encoder = this.gpu.device.createCommandEncoder({ label: "mirror parameters" });
    encoder.copyBufferToBuffer(this.values, 0, copy.values, 0, this.values.size);
    encoder.copyBufferToBuffer(this.buffers, 0, copy.buffers, 0, this.buffers.size);
    this.gpu.device.queue.submit([encoder.finish()]);
    return copy;
  }

  /**
   * The parameter's values on the GPU.
   *
   * @throws {Error} When `p` is not a floating-point parameter or buffer of this model.
   */
  view(p: Parameter): Tensor {
    const offset = this.#offsets.get(p);
    if (offset !== undefined) return { buffer: this.values, offset: offset * 4, shape: p.shape };
    const bufferOffset = this.#bufferOffsets.get(p);
    if (bufferOffset === undefined) {
      throw new Error(`${p.name}: not a floating-point parameter of this model`);
    }
    return { buffer: this.buffers, offset: bufferOffset * 4, shape: p.shape };
  }

  /**
   * The parameter's gradient on the GPU (trainable parameters only).
   *
   * @throws {Error} When `p` is frozen or a buffer.
   */
  gradient(p: Parameter): Tensor {
    const offset = this.#offsets.get(p)!;
    if (!p.requiresGrad || p.role !== "parameter" || offset >= this.trainableLength) {
      throw new Error(`${p.name}: has no gradient (frozen or a buffer)`);
    }
    return { buffer: this.gradients, offset: offset * 4, shape: p.shape };
  }

  /** Writes every host value to the GPU. */
  upload(): void {
    for (const [buffer, offsets] of this.#layouts()) {
      const host = new Float32Array(buffer.size / 4);
      for (const [p, offset] of offsets) host.set(p.data, offset);
      this.gpu.write(buffer, host);
    }
  }

  /** Copies every GPU value back into the host parameters (one readback). */
  async download(): Promise<void> {
    for (const [buffer, offsets] of this.#layouts()) {
      const host = await this.gpu.readFloats(buffer);
      for (const [p, offset] of offsets) p.data = host.slice(offset, offset + p.size);
    }
  }

  /**
   * The GPU's values as a state dict keyed as PyTorch's `state_dict()`, leaving the host model alone;
   * integer buffers (BatchNorm's `num_batches_tracked`) come from the host model. One readback per buffer.
   */
  async readStateDict(): Promise<StateDict> {
    const dict = this.model.stateDict();
    for (const [buffer, offsets] of this.#layouts()) {
      const host = await this.gpu.readFloats(buffer);
      for (const [p, offset] of offsets) dict.get(p.name)!.data = host.slice(offset, offset + p.size);
    }
    return dict;
  }

  /**
   * Writes the floating-point entries of `dict` (a state dict of this model, e.g. from
   * {@linkcode GpuModel.readStateDict}) to the GPU, leaving the host model alone.
   *
   * @throws {Error} When an entry is missing or of another shape.
   */
  writeStateDict(dict: StateDict, source = "state dict"): void {
    for (const [buffer, offsets] of this.#layouts()) {
      const host = new Float32Array(buffer.size / 4);
      for (const [p, offset] of offsets) {
        const entry = dict.get(p.name);
        if (!entry || entry.data.length !== p.size) {
          throw new Error(
            `${source}: ${p.name} ${entry ? `has ${entry.data.length} values` : "is missing"}, ` +
              `expected [${p.shape.join(", ")}]`,
          );
        }
        host.set(entry.data as Float32Array, offset);
      }
      this.gpu.write(buffer, host);
    }
  }

  /**
   * The gradients of the trainable parameters from the last step, keyed by `state_dict` name (as PyTorch's
   * `p.grad`, before weight decay); one readback.
   */
  async downloadGradients(): Promise<Map<string, Float32Array>> {
    const host = await this.gpu.readFloats(this.gradients);
    const gradients = new Map<string, Float32Array>();
    for (const [p, offset] of this.#offsets) {
      if (offset < this.trainableLength) gradients.set(p.name, host.slice(offset, offset + p.size));
    }
    return gradients;
  }

  #layouts(): Array<[GPUBuffer, Map<Parameter, number>]> {
    return [[this.values, this.#offsets], [this.buffers, this.#bufferOffsets]];
  }
}

/** Where each parameter and buffer lives in the flat buffers. */
interface Layout {
  groups: ParameterRange[];
  trainableLength: number;
  offsets: Map<Parameter, number>;
  bufferOffsets: Map<Parameter, number>;
  valueFloats: number;
  bufferFloats: number;
}

/** Trainable parameters by group, then frozen ones; buffers apart; every tensor aligned. */
function layoutOf(model: Module, groupOf: (p: Parameter) => number, groupCount: number): Layout {
  const all = model.namedParameters().filter((p) => !p.integer);
  const trainable = all.filter((p) => p.role === "parameter" && p.requiresGrad);
  const frozen = all.filter((p) => p.role === "parameter" && !p.requiresGrad);
  const offsets = new Map<Parameter, number>();
  const groups: ParameterRange[] = [];
  let offset = 0;
  for (let g = 0; g < groupCount; g++) {
    const members = trainable.filter((p) => groupOf(p) === g);
    const start = offset;
    for (const p of members) {
      offsets.set(p, offset);
      offset += aligned(p.size);
    }
    groups.push({ offset: start, length: offset - start, members });
  }
  const trainableLength = offset;
  for (const p of frozen) {
    offsets.set(p, offset);
    offset += aligned(p.size);
  }
  const bufferOffsets = new Map<Parameter, number>();
  let bufferOffset = 0;
  for (const p of all.filter((p) => p.role === "buffer")) {
    bufferOffsets.set(p, bufferOffset);
    bufferOffset += aligned(p.size);
  }
  return { groups, trainableLength, offsets, bufferOffsets, valueFloats: offset, bufferFloats: bufferOffset };
}
