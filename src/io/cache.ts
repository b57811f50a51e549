/**
 * Where downloads are kept: this package's cache folder, and PyTorch's, whose downloads are reused.
 *
 * @module
 */

import { homedir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** `$XDG_CACHE_HOME`, or `~/.cache` when the variable is unset or empty. */
function userCacheDir(): string {
  return process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
}

/**
 * `$XDG_CACHE_HOME/denogpu-resnet`, or `~/.cache/denogpu-resnet` when the variable is unset.
 *
 * @example
 * ```ts
 * import { defaultCacheDir } from "@denogpu/resnet/io";
 * console.log(defaultCacheDir()); // e.g. /home/me/.cache/denogpu-resnet
 * ```
 */
export function defaultCacheDir(): string {
  return join(userCacheDir(), "denogpu-resnet");
}

/**
 * Where PyTorch keeps downloaded weights: `$TORCH_HOME/hub/checkpoints` (`~/.cache/torch/...` by default).
 *
 * @example
 * ```ts
 * import { torchHubCheckpointDir } from "@denogpu/resnet/io";
 * console.log(torchHubCheckpointDir()); // e.g. /home/me/.cache/torch/hub/checkpoints
 * ```
 */
export function torchHubCheckpointDir(): string {
  return join(process.env.TORCH_HOME ?? join(userCacheDir(), "torch"), "hub", "checkpoints");
}
