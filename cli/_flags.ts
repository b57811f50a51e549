/**
 * What every command shares: the command shape, usage errors, typed flag values, and the GPU, data and
 * output set-up.
 *
 * @module
 */

import type { DatasetSplits } from "../src/data/dataset.ts";
import { openDataset, type OpenDatasetOptions } from "../src/data/open.ts";
import { Gpu } from "../src/gpu/device.ts";

/** A wrong command line: reported with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** Parsed flag values by name. */
export type Flags = Record<string, string | boolean | undefined>;

/** One command: its help, its flags for `parseArgs`, and what it runs. */
export interface Command {
  /** The text `--help` prints. */
  help: string;
  /** The command's flags (`--help` is added by the entry). */
  options: Record<string, { type: "string" | "boolean" }>;
  /** Whether it takes positional arguments. */
  positionals?: boolean;
  /** Runs it; resolves to the exit code. */
  run(flags: Flags, positionals: string[]): Promise<number>;
}

/** A flag that takes a value. */
export const string = { type: "string" } as const;
/** A flag that is on or off. */
export const boolean = { type: "boolean" } as const;

/** The integer value of `--name` (at least `min`), if given. */
export function integer(flags: Flags, name: string, min = 1): number | undefined {
  const text = flags[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer of at least ${min}, got "${text}"`);
  }
  return value;
}

/** The finite number `--name` gives, if given. */
export function decimal(flags: Flags, name: string): number | undefined {
  const text = flags[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got "${text}"`);
  }
  return value;
}

/** The value of `--name`, one of `choices`, if given. */
export function choice<T extends string>(flags: Flags, name: string, choices: readonly T[]): T | undefined {
  const value = flags[name] as string | undefined;
  if (value !== undefined && !choices.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}; got "${value}"`);
  }
  return value as T | undefined;
}

/** Human lines go to stdout, except with `--json`, whose stdout holds only the JSON result. */
export function humanOutput(json: boolean): (line: string) => void {
  return json ? (line) => console.error(line) : (line) => console.log(line);
}

/** The GPU, with a line saying which adapter it is. */
export async function createGpu(log: (line: string) => void): Promise<Gpu> {
  const gpu = await Gpu.create();
  log(`WebGPU adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  return gpu;
}

/**
 * The data `data` (the `--data` flag, or what a run saved) names, with `--no-download`; says what it read
 * and logs its warnings.
 */
export async function loadData(
  flags: Flags,
  data: Omit<OpenDatasetOptions, "download">,
  log: (line: string) => void,
): Promise<DatasetSplits> {
  const splits = await openDataset({ ...data, download: !flags["no-download"] });
  log(`data: ${splits.source}`);
  for (const warning of splits.warnings) log(`warning: ${warning}`);
  return splits;
}

/**
 * `items` joined by ", " for a help text, wrapped before `width` columns onto lines indented by `indent`
 * spaces (the column flag descriptions start at).
 *
 * @example
 * ```ts
 * import { helpList } from "./_flags.ts";
 * console.log(`  --model NAME           ${helpList(["resnet18", "resnet34"])}`);
 * ```
 */
export function helpList(items: readonly string[], indent = 25, width = 100): string {
  return helpText(items.join(", "), indent, width);
}

/**
 * `text` wrapped at spaces to lines of at most `width` characters, continuation lines indented by
 * `indent` spaces.
 *
 * @example
 * ```ts
 * import { helpText } from "./_flags.ts";
 * console.log(`  --model NAME           ${helpText("resnet18 or resnet34 (default resnet18)")}`);
 * ```
 */
export function helpText(text: string, indent = 25, width = 100): string {
  const lines = [""];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (lines[last] && indent + lines[last].length + 1 + word.length > width) lines.push(word);
    else lines[last] += (lines[last] ? " " : "") + word;
  }
  return lines.join("\n" + " ".repeat(indent));
}
