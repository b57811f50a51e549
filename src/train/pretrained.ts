/**
 * Transfer learning as a PyTorch tutorial does it: start from torchvision's ImageNet weights (or any
 * `.pth`/`.safetensors` state dict), replace the classifier head for the new class count, and freeze the
 * backbone or the stages up to a given one.
 *
 * @module
 */

import { basename, join } from "node:path";
import { defaultCacheDir, torchHubCheckpointDir } from "../io/cache.ts";
import { downloadFile } from "../io/download.ts";
import { type DownloadProgress, progressReporter } from "../io/progress.ts";
import type { Module } from "../nn/module.ts";
import { decodePth } from "../io/pth.ts";
import { decodeSafetensors } from "../io/safetensors.ts";
import type { StateDict } from "../io/state_dict.ts";

/**
 * torchvision's official ImageNet weights (`IMAGENET1K_V1`) of each ResNet, ResNeXt and Wide ResNet, at
 * their canonical addresses (torchvision 0.14's `models/resnet.py`). V1 throughout, also where torchvision's
 * default is V2 (resnet50 and up): V1 weights expect the evaluation preset this package applies (resize to
 * 256, crop 224), the V2 ones a resize to 232. resnext101_64x4d has only V1 weights (evaluated at 232).
 *
 * @example
 * ```ts
 * import { IMAGENET_WEIGHTS } from "@denogpu/resnet/train";
 * console.log(IMAGENET_WEIGHTS.resnext50_32x4d); // https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth
 * ```
 */
export const IMAGENET_WEIGHTS: Readonly<Record<string, string>> = {
  resnet18: "https://download.pytorch.org/models/resnet18-f37072fd.pth",
  resnet34: "https://download.pytorch.org/models/resnet34-b627a593.pth",
  resnet50: "https://download.pytorch.org/models/resnet50-0676ba61.pth",
  resnet101: "https://download.pytorch.org/models/resnet101-63fe2227.pth",
  resnet152: "https://download.pytorch.org/models/resnet152-394f9c45.pth",
  resnext50_32x4d: "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
  resnext101_32x8d: "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
  resnext101_64x4d: "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth",
  wide_resnet50_2: "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
  wide_resnet101_2: "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
};

/** The hash prefix torch.hub reads from a weights file's name (`resnet18-f37072fd.pth` -> `f37072fd`). */
export function hashPrefix(fileName: string): string | undefined {
  return /-([a-f0-9]+)\./.exec(fileName)?.[1];
}

/** Options of {@linkcode fetchWeights}. */
export interface FetchWeightsOptions {
  /** Where downloads go, `<defaultCacheDir()>/checkpoints` by default. */
  cacheDir?: string;
  /** Also look here before downloading; PyTorch's own cache by default, so its downloads are reused. */
  torchCacheDir?: string;
  /** Receives download progress instead of the default bar on stderr. */
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * The local path of the weights at `url`: found in PyTorch's cache or ours, else downloaded into ours
 * (to `<file>.part`, renamed only once the SHA-256 starts with the hash prefix in the file's name, as
 * torch.hub checks it).
 *
 * @throws {Error} When the file is in neither cache and cannot be downloaded, or its name carries no hash
 * prefix to verify the download by; the message says where to put the file by hand.
 *
 * @example
 * ```ts
 * import { fetchWeights, IMAGENET_WEIGHTS } from "@denogpu/resnet/train";
 * const path = await fetchWeights(IMAGENET_WEIGHTS.resnet18); // ~/.cache/.../resnet18-f37072fd.pth
 * ```
 */
export async function fetchWeights(url: string, options: FetchWeightsOptions = {}): Promise<string> {
  const name = basename(new URL(url).pathname);
  const cacheDir = options.cacheDir ?? join(defaultCacheDir(), "checkpoints");
  for (const dir of [options.torchCacheDir ?? torchHubCheckpointDir(), cacheDir]) {
    if (await isFile(join(dir, name))) return join(dir, name);
  }
  const destination = join(cacheDir, name);
  const sha256 = hashPrefix(name);
  const byHand = `download it yourself and put it at ${destination}, or pass its path to --pretrained`;
  if (!sha256) throw new Error(`${url}: its file name carries no hash prefix to verify it by; ${byHand}`);
  try {
    await downloadFile({
      url,
      destination,
      sha256,
      onProgress: options.onProgress ?? progressReporter(name),
    });
  } catch (error) {
    throw new Error(
      `could not download the weights: ${(error as Error).message}; to use them offline, ${byHand}`,
      {
        cause: error,
      },
    );
  }
  return destination;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Reads a state dict from a PyTorch checkpoint (`torch.save`, a zip) or a `.safetensors` file, told apart
 * by their first bytes.
 *
 * @example
 * ```ts
 * import { readStateDict } from "@denogpu/resnet/train";
 * const dict = await readStateDict("resnet18-f37072fd.pth");
 * ```
 */
export async function readStateDict(path: string): Promise<StateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (zip || /\.(pth?|pt|bin|tar)$/i.test(path)) return decodePth(bytes, path);
  return decodeSafetensors(bytes, path).tensors;
}

/** What {@linkcode loadPretrained} did. */
export interface PretrainedLoad {
  /** Tensors taken from the file. */
  loaded: number;
  /** The file's head shape (`[classes, features]`) where it was replaced by the model's new one. */
  replacedHead?: number[];
}

/**
 * Loads `dict` into `model` strictly, except that a classifier (`fc.*`) of another class count is left out
 * and the model's freshly initialised head kept, as `model.fc = nn.Linear(features, classes)` after loading
 * does in PyTorch. Throws, listing every mismatch, when the file holds another architecture.
 *
 * @example
 * ```ts
 * import { resnet18 } from "@denogpu/resnet";
 * import { loadPretrained, readStateDict } from "@denogpu/resnet/train";
 * const model = resnet18({ numClasses: 10 });
 * loadPretrained(model, await readStateDict("resnet18-f37072fd.pth"), "resnet18-f37072fd.pth");
 * ```
 */
export function loadPretrained(model: Module, dict: StateDict, source: string): PretrainedLoad {
  const head = model.namedParameters().find((p) => p.name === "fc.weight");
  const fileHead = dict.get("fc.weight");
  const replace = head !== undefined && fileHead !== undefined &&
    fileHead.shape.join(",") !== head.shape.join(",");
  // With the model's own head in place of the file's, the strict check still covers the whole backbone.
  const toLoad = replace ? withModelHead(model, dict) : dict;
  model.loadStateDict(toLoad, { strict: true, source });
  return {
    loaded: replace
      ? toLoad.size - [...toLoad.keys()].filter((n) => n.startsWith("fc.")).length
      : toLoad.size,
    replacedHead: replace ? [...fileHead.shape] : undefined,
  };
}

/** `dict` with its `fc.*` tensors replaced by the model's current head. */
function withModelHead(model: Module, dict: StateDict): StateDict {
  const out: StateDict = new Map([...dict].filter(([name]) => !name.startsWith("fc.")));
  for (const [name, tensor] of model.stateDict()) if (name.startsWith("fc.")) out.set(name, tensor);
  return out;
}

/**
 * Applies a `--freeze` choice: `"none"` trains everything, `"backbone"` only `fc`, and the name of a
 * top-level module (e.g. `"layer2"`) freezes it and every module before it (the stem included). Returns
 * the frozen parameters' names.
 *
 * @example
 * ```ts
 * import { resnet18 } from "@denogpu/resnet";
 * import { applyFreeze } from "@denogpu/resnet/train";
 * const model = resnet18({ numClasses: 10 });
 * applyFreeze(model, "layer3"); // conv1, bn1, layer1..layer3 frozen; layer4 and fc trained
 * ```
 */
export function applyFreeze(model: Module, choice: string): string[] {
  let predicate: (name: string) => boolean;
  if (choice === "none") predicate = () => false;
  else if (choice === "backbone") predicate = (name) => !name.startsWith("fc.");
  else {
    const order = model.children().filter(([, child]) => child.namedParameters().length > 0).map(([name]) =>
      name
    );
    const last = order.indexOf(choice);
    if (last < 0 || choice === "fc") {
      throw new RangeError(
        `freeze must be none, backbone or a module of the model before fc (${
          order.filter((n) => n !== "fc").join(", ")
        }); ` +
          `got ${choice}`,
      );
    }
    const frozen = order.slice(0, last + 1);
    predicate = (name) => frozen.some((module) => name.startsWith(`${module}.`));
  }
  model.freeze(predicate);
  return model.parameters().filter((p) => !p.requiresGrad).map((p) => p.name);
}
