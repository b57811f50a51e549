/**
 * The memory planner. Ops of a step are recorded against virtual tensors first; once the whole step is
 * known, each virtual tensor's lifetime (first to last op that touches it) is computed and tensors are packed
 * into a few large buffers, at offsets where no tensor of overlapping lifetime lies. Only then are buffers
 * made and the ops turned into dispatches.
 *
 * @module
 */

import { BINDING_ALIGNMENT, type Gpu } from "../gpu/device.ts";
import { type Dispatch, numel, type Tensor } from "../gpu/kernel.ts";
import type { Resolved, StepTensor } from "../ops/op.ts";

const align = (bytes: number) => Math.ceil(bytes / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;

/** A tensor of a step before it has storage: the handle that op definitions lower against. */
export type VirtualTensor = StepTensor;

interface Storage {
  bytes: number;
  first: number;
  last: number;
  external?: Tensor;
  buffer?: GPUBuffer;
  offset?: number;
}

interface RecordedOp {
  label: string;
  touched: Storage[];
  make: (resolve: (t: VirtualTensor) => Tensor) => Dispatch[];
}

/**
 * Records a step's ops on virtual tensors, then allocates shared storage and makes the dispatches.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * import { reluForward, StepPlanner } from "@denogpu/resnet/ops";
 * const gpu = await Gpu.create();
 * const planner = new StepPlanner(gpu);
 * const x = planner.tensor([4, 64], "x"), y = planner.tensor([4, 64], "y");
 * planner.op("relu", { input: x, output: y }, (t) => reluForward(gpu, 256, t, "relu"));
 * const { dispatches } = await planner.build(); // one dispatch, x and y in two buffers
 * ```
 */
export class StepPlanner {
  readonly #gpu: Gpu;
  readonly #tensors: Array<{ shape: readonly number[]; label: string; storage: Storage }> = [];
  readonly #ops: RecordedOp[] = [];

  /** A planner for one step on `gpu`. */
  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /**
   * A new tensor with its own storage (4-byte elements: f32 or u32).
   *
   * @throws {Error} When the tensor is larger than the adapter's largest storage binding.
   */
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

  /**
   * The same storage seen with another shape of the same size (flatten, identity, fused ReLU).
   *
   * @throws {Error} When `shape` has another number of elements than `of`.
   */
  view(of: VirtualTensor, shape: readonly number[] = of.shape): VirtualTensor {
    if (numel(shape) !== numel(of.shape)) {
      throw new Error(`${of.label}: cannot view [${of.shape.join(", ")}] as [${shape.join(", ")}]`);
    }
    return this.#add(shape, of.label, this.#tensors[of.id].storage);
  }

  /**
   * The first of the partial sums that `of` (shape `[splits, ...shape]`) holds, seen as `shape`: the same
   * storage from its start.
   */
  firstSplit(of: VirtualTensor): VirtualTensor {
    return this.#add(of.shape.slice(1), of.label, this.#tensors[of.id].storage);
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
    const touched: Storage[] = [];
    for (const t of Object.values(tensors)) {
      if (!t) continue;
      const storage = this.#tensors[t.id].storage;
      storage.first = Math.min(storage.first, index);
      storage.last = Math.max(storage.last, index);
      touched.push(storage);
    }
    this.#ops.push({
      label,
      touched,
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
   * Assigns storage, makes the buffers and the dispatches. Tensors are placed greedily by size, the largest
   * first, each at the lowest offset of the first buffer where it overlaps no tensor of overlapping
   * lifetime. Two tensors that one op touches never share a buffer, as WebGPU requires of a buffer written
   * in a dispatch, and no buffer grows past the adapter's `maxBufferSize`. Each op's dispatches are made
   * inside error scopes so a failure names the op. Returns the dispatches in order and the bytes of the
   * buffers made.
   */
  async build(): Promise<{ dispatches: Dispatch[]; bytes: number; resolve: (t: VirtualTensor) => Tensor }> {
    const storages = [...new Set(this.#tensors.map((t) => t.storage))]
      .filter((s) => !s.external && s.first <= s.last)
      .sort((a, b) => b.bytes - a.bytes || a.first - b.first);
    const together = new Map<Storage, Set<Storage>>(storages.map((s) => [s, new Set()]));
    for (const op of this.#ops) {
      for (const a of op.touched) for (const b of op.touched) together.get(a)?.add(b);
    }
    const arenas: Array<{ bytes: number; placed: Storage[] }> = [];
    const maxBytes = this.#gpu.limits.maxBufferSize;
    const lowestOffset = (arena: (typeof arenas)[number], s: Storage): number => {
      const overlapping = arena.placed
        .filter((p) => p.first <= s.last && s.first <= p.last)
        .sort((a, b) => a.offset! - b.offset!);
      let offset = 0;
      for (const p of overlapping) {
        if (p.offset! - offset >= s.bytes) break;
        offset = Math.max(offset, align(p.offset! + p.bytes));
      }
      return offset;
    };
    for (const s of storages) {
      let arena = arenas.find((a) =>
        !a.placed.some((p) => together.get(s)!.has(p)) && lowestOffset(a, s) + s.bytes <= maxBytes
      );
      if (!arena) {
        arena = { bytes: 0, placed: [] };
        arenas.push(arena);
      }
      s.offset = lowestOffset(arena, s);
      arena.placed.push(s);
      arena.bytes = Math.max(arena.bytes, s.offset + s.bytes);
    }
    let bytes = 0;
    arenas.forEach((arena, i) => {
      const buffer = this.#gpu.buffer(`activation arena ${i}`, align(arena.bytes));
      bytes += buffer.size;
      for (const s of arena.placed) s.buffer = buffer;
    });
    const resolve = (t: VirtualTensor): Tensor => {
      const { storage, shape } = this.#tensors[t.id];
      if (storage.external) return { ...storage.external, shape };
      if (!storage.buffer) throw new Error(`${t.label}: used outside the ops of its step`);
      return { buffer: storage.buffer, offset: storage.offset!, shape };
    };
    const dispatches: Dispatch[] = [];
    for (const op of this.#ops) {
      dispatches.push(...await this.#gpu.checked(op.label, () => op.make(resolve)));
    }
    return { dispatches, bytes, resolve };
  }
}
