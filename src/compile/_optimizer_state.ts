/**
 * Conversion between a training step's flat momentum buffer and {@linkcode SgdStateDict}. Parameter ids
 * number the trained parameters consecutively across the optimizer's groups, as PyTorch numbers them.
 *
 * @module
 */

import type { TensorData } from "../io/state_dict.ts";
import type { ParamGroupRange } from "../optim/sgd.ts";
import type { SgdParamGroupState, SgdStateDict } from "../optim/sgd_state.ts";
import type { GpuModel } from "./gpu_model.ts";

/** A trained parameter as the optimizer sees it. */
interface Slot {
  name: string;
  shape: number[];
  /** First float in the flat buffers. */
  offset: number;
  size: number;
}

/** One optimizer group: its compiled settings and its parameters in id order. */
export interface OptimizerGroup {
  settings: ParamGroupRange;
  slots: Slot[];
}

const hasMomentum = (group: OptimizerGroup) => (group.settings.momentum ?? 0) !== 0;

/** The optimizer's groups with their parameters; `settings` are the optimizer's own (non-empty) groups. */
export function optimizerGroups(model: GpuModel, settings: readonly ParamGroupRange[]): OptimizerGroup[] {
  return settings.map((group) => {
    const range = model.groups.find((r) => r.offset === group.offset && r.members.length > 0)!;
    return {
      settings: group,
      slots: range.members.map((p) => ({
        name: p.name,
        shape: [...p.shape],
        offset: model.gradient(p).offset / 4,
        size: p.size,
      })),
    };
  });
}

/** Whether any group keeps momentum buffers (else there is no state to read back). */
export function keepsMomentum(groups: readonly OptimizerGroup[]): boolean {
  return groups.some(hasMomentum);
}

/** The state dict of `groups`, with the momentum buffers cut from `momentum` when given. */
export function stateDictOf(groups: readonly OptimizerGroup[], momentum?: Float32Array): SgdStateDict {
  const dict: SgdStateDict = { state: {}, param_groups: [] };
  let id = 0;
  for (const group of groups) {
    const { lr, momentum: factor = 0, dampening = 0, weightDecay = 0, nesterov = false } = group.settings;
    const params: number[] = [];
    for (const slot of group.slots) {
      if (momentum && factor !== 0) {
        const data = momentum.slice(slot.offset, slot.offset + slot.size);
        dict.state[id] = { momentum_buffer: { shape: [...slot.shape], dtype: "F32", data } };
      }
      params.push(id++);
    }
    dict.param_groups.push({
      lr,
      momentum: factor,
      dampening,
      weight_decay: weightDecay,
      nesterov,
      maximize: false,
      params,
      param_names: group.slots.map((s) => s.name),
    });
  }
  return dict;
}

/**
 * The flat momentum buffer (`length` floats) that `dict` describes, or `undefined` when it holds no momentum
 * buffers (before the first step). Parameters pair up by position in each group, as PyTorch's
 * `load_state_dict` pairs them, and by name where the state names them.
 *
 * @throws {Error} When the groups, their parameters, the compiled hyperparameters or a buffer's shape differ
 * from the step's, naming the parameter and the expected shape.
 */
export function momentumOf(
  groups: readonly OptimizerGroup[],
  dict: SgdStateDict,
  length: number,
): Float32Array | undefined {
  const saved = dict.param_groups ?? [];
  if (saved.length !== groups.length) {
    throw new Error(`the state has ${saved.length} parameter groups, this training step ${groups.length}`);
  }
  const host = new Float32Array(length);
  const missing: string[] = [];
  let found = 0;
  const listed = new Set<number>();
  groups.forEach((group, g) => {
    checkGroup(group, saved[g], g);
    group.slots.forEach((slot, k) => {
      const id = saved[g].params[k];
      listed.add(id);
      const buffer = dict.state?.[id]?.momentum_buffer;
      if (!hasMomentum(group)) return;
      if (!buffer) return void missing.push(slot.name);
      host.set(checkedBuffer(buffer, slot, id), slot.offset);
      found++;
    });
  });
  const stray = Object.keys(dict.state ?? {}).map(Number).find((id) => !listed.has(id));
  if (stray !== undefined) throw new Error(`the state holds parameter id ${stray}, which no group lists`);
  if (found === 0) return undefined;
  if (missing.length) {
    throw new Error(`${missing[0]} has no momentum_buffer while other parameters have one`);
  }
  return host;
}

/** Throws unless the saved group holds the same parameters and the settings compiled into the step. */
function checkGroup(group: OptimizerGroup, saved: SgdParamGroupState, g: number): void {
  const { momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = group.settings;
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
  const compiled = { momentum, dampening, weight_decay: weightDecay, nesterov, maximize: false };
  for (const [key, value] of Object.entries(compiled)) {
    const given = saved[key as keyof typeof compiled] ?? (key === "maximize" ? false : undefined);
    if (given !== value) {
      throw new Error(
        `parameter group ${g}: ${key} is ${given} in the state, ${value} in this training step ` +
          "(compiled into it: compile the step with the saved settings)",
      );
    }
  }
}

function checkedBuffer(buffer: TensorData, slot: Slot, id: number): Float32Array {
  const shape = buffer.shape ?? [];
  const sameShape = shape.length === slot.shape.length && shape.every((n, i) => n === slot.shape[i]);
  if (!sameShape || !(buffer.data instanceof Float32Array) || buffer.data.length !== slot.size) {
    throw new Error(
      `${slot.name} (parameter ${id}): momentum_buffer has shape [${shape.join(", ")}], ` +
        `expected float32 [${slot.shape.join(", ")}]`,
    );
  }
  return buffer.data;
}
