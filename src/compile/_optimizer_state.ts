/**
 * Conversion between a training step's flat optimizer state buffers and torch's state dict
 * ({@linkcode OptimizerStateDict}), for any {@linkcode Optimizer}: each optimizer names the per-parameter
 * state keys a group keeps and its groups' hyperparameters, and this file cuts the flat buffers into those
 * keys and back. Parameter ids number the trained parameters consecutively across the optimizer's groups,
 * as PyTorch numbers them.
 *
 * @module
 */

import type { TensorData } from "../io/state_dict.ts";
import type { Optimizer, OptimizerStateDict } from "../optim/optimizer.ts";
import type { GpuModel } from "./gpu_model.ts";

/** A trained parameter as the optimizer sees it. */
interface Slot {
  name: string;
  shape: number[];
  /** First float in the flat buffers. */
  offset: number;
  size: number;
}

/** One optimizer group: its parameters in id order. */
export interface OptimizerGroup {
  slots: Slot[];
}

/** The loose shape both optimizers' state dicts share, for code that handles either. */
type AnyParameterState = Record<string, TensorData | number | null | undefined>;
type AnyGroupState = Record<string, unknown> & { params: number[]; param_names?: string[] };

/** The optimizer's (non-empty) groups with their parameters. */
export function optimizerGroups(model: GpuModel, optimizer: Optimizer): OptimizerGroup[] {
  return optimizer.groups.map((group) => {
    const range = model.groups.find((r) => r.offset === group.offset && r.members.length > 0)!;
    return {
      slots: range.members.map((p) => ({
        name: p.name,
        shape: [...p.shape],
        offset: model.gradient(p).offset / 4,
        size: p.size,
      })),
    };
  });
}

/** Whether any group keeps per-parameter state (else there is none to read back). */
export function keepsState(optimizer: Optimizer): boolean {
  return optimizer.groups.some((_, g) => optimizer.stateKeys(g).length > 0);
}

/** The state keys some group keeps, each once. */
export function stateKeysOf(optimizer: Optimizer): string[] {
  return [...new Set(optimizer.groups.flatMap((_, g) => optimizer.stateKeys(g)))];
}

/**
 * The state dict of `optimizer`, with each parameter's state cut from the flat `buffers` (by state key) when
 * given, that is once a step has run.
 */
export function stateDictOf(
  optimizer: Optimizer,
  groups: readonly OptimizerGroup[],
  buffers?: Record<string, Float32Array>,
): OptimizerStateDict {
  const state: Record<number, AnyParameterState> = {};
  const paramGroups: AnyGroupState[] = [];
  let id = 0;
  groups.forEach((group, g) => {
    const keys = optimizer.stateKeys(g);
    const params: number[] = [];
    for (const slot of group.slots) {
      if (buffers && keys.length > 0) {
        const entry: AnyParameterState = {};
        // torch 1.13 keeps Adam's step as a float32 scalar tensor.
        if (optimizer.stepInState) {
          entry.step = { shape: [], dtype: "F32", data: new Float32Array([optimizer.stepCount]) };
        }
        for (const key of keys) {
          const data = buffers[key].slice(slot.offset, slot.offset + slot.size);
          entry[key] = { shape: [...slot.shape], dtype: "F32", data };
        }
        state[id] = entry;
      }
      params.push(id++);
    }
    paramGroups.push({
      ...optimizer.hyperparameters(g),
      params,
      param_names: group.slots.map((s) => s.name),
    });
  });
  return { state, param_groups: paramGroups } as unknown as OptimizerStateDict;
}

/** What a state dict holds for a training step's flat buffers. */
export interface FlatState {
  /** The flat buffers (`length` floats each) by state key; `undefined` when the dict holds no state. */
  buffers?: Record<string, Float32Array>;
  /** The `step` the parameters' state records, when it records one. */
  step?: number;
}

/**
 * The flat state buffers (`length` floats each) that `dict` describes. Parameters pair up by position in
 * each group, as PyTorch's `load_state_dict` pairs them, and by name where the state names them.
 *
 * @throws {Error} When the groups, their parameters, the compiled hyperparameters or a tensor's shape differ
 * from the step's, naming the parameter and the expected shape, or the parameters' steps differ.
 */
export function flatStateOf(
  optimizer: Optimizer,
  groups: readonly OptimizerGroup[],
  dict: OptimizerStateDict,
  length: number,
): FlatState {
  const saved = (dict.param_groups ?? []) as unknown as AnyGroupState[];
  const entries = (dict.state ?? {}) as Record<number, AnyParameterState>;
  if (saved.length !== groups.length) {
    throw new Error(`the state has ${saved.length} parameter groups, this training step ${groups.length}`);
  }
  const buffers = Object.fromEntries(stateKeysOf(optimizer).map((key) => [key, new Float32Array(length)]));
  const missing: string[] = [];
  const steps = new Set<number>();
  let found = 0;
  const listed = new Set<number>();
  groups.forEach((group, g) => {
    checkGroup(optimizer, group, saved[g], g);
    group.slots.forEach((slot, k) => {
      const id = saved[g].params[k];
      listed.add(id);
      for (const key of optimizer.stateKeys(g)) {
        const tensor = entries[id]?.[key];
        if (!tensor || typeof tensor === "number") {
          missing.push(`${slot.name} has no ${key}`);
          continue;
        }
        buffers[key].set(checkedTensor(tensor, key, slot, id), slot.offset);
        found++;
      }
      const step = entries[id]?.step;
      if (step !== undefined && step !== null) {
        steps.add(typeof step === "number" ? step : Number(step.data[0]));
      }
    });
  });
  const stray = Object.keys(entries).map(Number).find((id) => !listed.has(id));
  if (stray !== undefined) throw new Error(`the state holds parameter id ${stray}, which no group lists`);
  if (steps.size > 1) {
    throw new Error(`the parameters' states are at different steps: ${[...steps].join(", ")}`);
  }
  const step = steps.size === 1 ? [...steps][0] : undefined;
  if (found === 0) return { step };
  if (missing.length) throw new Error(`${missing[0]} while other parameters have one`);
  return { buffers, step };
}

/** Throws unless the saved group holds the same parameters and the settings compiled into the step. */
function checkGroup(optimizer: Optimizer, group: OptimizerGroup, saved: AnyGroupState, g: number): void {
  if (saved.params?.length !== group.slots.length) {
    throw new Error(
      `parameter group ${g} holds ${saved.params?.length ?? 0} parameters in the state, ` +
        `${group.slots.length} in this training step (another model or freeze setting)`,
    );
  }
  group.slots.forEach((slot, k) => {
    const name = saved.param_names?.[k];
    if (name !== undefined && name !== slot.name) {
      throw new Error(
        `parameter group ${g}, parameter ${k}: the state's is ${name}, this step's ${slot.name}`,
      );
    }
  });
  // The learning rate is each step's, given to TrainingStep.step; everything else is compiled in.
  const { lr: _, ...compiled } = optimizer.hyperparameters(g);
  for (const [key, value] of Object.entries(compiled)) {
    const given = saved[key] ?? (key === "maximize" ? false : undefined);
    if (JSON.stringify(given) !== JSON.stringify(value)) {
      throw new Error(
        `parameter group ${g}: ${key} is ${given} in the state, ${value} in this training step ` +
          `(compiled into its ${optimizer.kind}: compile the step with the saved settings)`,
      );
    }
  }
}

function checkedTensor(tensor: TensorData, key: string, slot: Slot, id: number): Float32Array {
  const shape = tensor.shape ?? [];
  const sameShape = shape.length === slot.shape.length && shape.every((n, i) => n === slot.shape[i]);
  if (!sameShape || !(tensor.data instanceof Float32Array) || tensor.data.length !== slot.size) {
    throw new Error(
      `${slot.name} (parameter ${id}): ${key} has shape [${shape.join(", ")}], ` +
        `expected float32 [${slot.shape.join(", ")}]`,
    );
  }
  return tensor.data;
}
