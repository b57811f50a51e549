/**
 * The memory planner. Ops of a step are recorded against virtual tensors first; once the whole step is
 * known, each virtual tensor's lifetime (first to last op that touches it) is computed and tensors whose
 * lifetimes do not overlap share one GPU buffer. Only then are buffers made and the ops turned into
 * dispatches.
 *
 * @module
 */

import { BINDING_ALIGNMENT, type Gpu } from "../gpu/device.ts";
import { type Dispatch, numel, type Tensor } from "../gpu/kernel.ts";

/** A tensor of a step before it has storage. */
export interface VirtualTensor {
  /** Index in the plan. */
  readonly id: number;
  /** Shape including the batch dimension. */
  readonly shape: readonly number[];
  /** What it holds, for messages, e.g. `"layer1.0.conv1 output"`. */
  readonly label: string;
}

interface Storage {
  bytes: number;
  first: number;
  last: number;
  external?: Tensor;
  buffer?: GPUBuffer;
}

/** Named virtual tensors resolved to real ones (optional names stay optional). */
export type Resolved<T> = { [K in keyof T]: undefined extends T[K] ? Tensor | undefined : Tensor };

interface RecordedOp {
  label: string;
  make: (resolve: (t: VirtualTensor) => Tensor) => Dispatch[];
}

/** Records a step's ops on virtual tensors, then allocates shared storage and makes the dispatches. */
export class StepPlanner {
  readonly #gpu: Gpu;
  readonly #tensors: Array<{ shape: readonly number[]; label: string; storage: Storage }> = [];
  readonly #ops: RecordedOp[] = [];

  /** A planner for one step on `gpu`. */
  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** A new tensor with its own storage (4-byte elements: f32 or u32). */
  tensor(shape: readonly number[], label: string): VirtualTensor {
    const bytes = numel(shape) * 4;
    const limit = this.#gpu.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new Error(
        `${label}: shape [${shape.join(", ")}] needs ${bytes} bytes, more than this adapter's largest ` +
          `storage binding (${limit} bytes); use a smaller batch size`,
      );
    }
    return this.#add(shape, label, { bytes, first: Infinity, last: -Infinity });
  }

  /** A tensor backed by an existing GPU tensor (parameters, a data pipeline's batch); never reused. */
  external(tensor: Tensor, label: string): VirtualTensor {
    return this.#add(tensor.shape, label, {
      bytes: numel(tensor.shape) * 4,
      first: -Infinity,
      last: Infinity,
      external: tensor,
    });
  }

  /** The same storage seen with another shape of the same size (flatten, identity, fused ReLU). */
  view(of: VirtualTensor, shape: readonly number[] = of.shape): VirtualTensor {
    if (numel(shape) !== numel(of.shape)) {
      throw new Error(`${of.label}: cannot view [${of.shape.join(", ")}] as [${shape.join(", ")}]`);
    }
    return this.#add(shape, of.label, this.#tensors[of.id].storage);
  }

  #add(shape: readonly number[], label: string, storage: Storage): VirtualTensor {
    this.#tensors.push({ shape, label, storage });
    return { id: this.#tensors.length - 1, shape, label };
  }

  /**
   * Records an op over named tensors (read or written, `undefined` for an absent optional one); `make` is
   * called after allocation with the same names resolved to real tensors. Ops run in the order recorded.
   */
  op<T extends Record<string, VirtualTensor | undefined>>(
    label: string,
    tensors: T,
    make: (t: Resolved<T>) => Dispatch[],
  ): void {
    const index = this.#ops.length;
    for (const t of Object.values(tensors)) {
      if (!t) continue;
      const storage = this.#tensors[t.id].storage;
      storage.first = Math.min(storage.first, index);
      storage.last = Math.max(storage.last, index);
    }
    this.#ops.push({
      label,
      make: (resolve) =>
        make(
          Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t && resolve(t)])) as Resolved<T>,
        ),
    });
  }

  /** Marks `tensors` as read after the last op (e.g. logits read back by the caller). */
  keep(tensors: readonly VirtualTensor[]): void {
    for (const t of tensors) this.#tensors[t.id].storage.last = Infinity;
  }

  /**
   * Assigns storage, makes the buffers and the dispatches. Storage is assigned greedily by size: the largest
   * tensor first, each into the smallest buffer already sized for it whose tensors' lifetimes do not overlap
   * its own, else into a new buffer. Tensors used by one op therefore never share a buffer, as WebGPU
   * requires of a buffer written in a dispatch. Each op's dispatches are made inside error scopes so a
   * failure names the op. Returns the dispatches in order and the bytes of the buffers made.
   */
  async build(): Promise<{ dispatches: Dispatch[]; bytes: number; resolve: (t: VirtualTensor) => Tensor }> {
    const storages = [...new Set(this.#tensors.map((t) => t.storage))]
      .filter((s) => !s.external && s.first <= s.last)
      .sort((a, b) => b.bytes - a.bytes || a.first - b.first);
    const pool: Array<{ bytes: number; users: Storage[] }> = [];
    const disjoint = (a: Storage, b: Storage) => a.last < b.first || b.last < a.first;
    for (const s of storages) {
      let best = pool
        .filter((slot) => slot.users.every((user) => disjoint(user, s)))
        .reduce<(typeof pool)[number] | undefined>((a, b) => (a && a.bytes <= b.bytes ? a : b), undefined);
      if (!best) {
        best = { bytes: s.bytes, users: [] };
        pool.push(best);
      }
      best.users.push(s);
    }
    let bytes = 0;
    pool.forEach((slot, i) => {
      const buffer = this.#gpu.buffer(
        `activation arena ${i}`,
        Math.ceil(slot.bytes / BINDING_ALIGNMENT) * BINDING_ALIGNMENT,
      );
      bytes += buffer.size;
      for (const s of slot.users) s.buffer = buffer;
    });
    const resolve = (t: VirtualTensor): Tensor => {
      const { storage, shape } = this.#tensors[t.id];
      if (storage.external) return { ...storage.external, shape };
      if (!storage.buffer) throw new Error(`${t.label}: used outside the ops of its step`);
      return { buffer: storage.buffer, offset: 0, shape };
    };
    const dispatches: Dispatch[] = [];
    for (const op of this.#ops) {
      dispatches.push(...await this.#gpu.checked(op.label, () => op.make(resolve)));
    }
    return { dispatches, bytes, resolve };
  }
}
