/**
 * Typed access to the PyTorch reference fixtures that `tools/make_fixtures.py` wrote under `tests/fixtures/`
 * (described by `tests/fixtures/manifest.json`). Weights are not stored: rebuild them with
 * {@linkcode deterministicStateDict} from `stateDict` and `weightSeed`. References were computed by PyTorch
 * in float64 and stored as float32.
 *
 * @module
 */

/** A state dict's names and shapes, in PyTorch's `state_dict()` order. */
export type StateDictEntries = Array<[string, number[]]>;

/** An eval-mode forward pass of a torchvision ResNet. */
export interface ForwardFixture {
  /** E.g. `"resnet50_c1000"`. */
  name: string;
  /**
   * torchvision constructor name: `"resnet18"`, `"resnet34"`, `"resnet50"`, `"resnext50_32x4d"` or
   * `"wide_resnet50_2"`.
   */
  arch: string;
  /** Width of `fc`. */
  numClasses: number;
  /** Seed of the deterministic weights. */
  weightSeed: number;
  /** Seed of the deterministic input. */
  inputSeed: number;
  /** The input batch, NCHW. */
  input: Float32Array;
  /** `[2, 3, 64, 64]`. */
  inputShape: number[];
  /** PyTorch's logits, `[batch, numClasses]`. */
  logits: Float32Array;
  /** The model's state dict names and shapes. */
  stateDict: StateDictEntries;
}

/** A parameter's values at fixed flat indices. */
export interface ParameterSamples {
  /** Flat (C-order) indices into the parameter. */
  indices: number[];
  /** `p.grad` (before weight decay) at the indices. */
  grad: Float32Array;
  /** The parameter after the step at the indices. */
  value: Float32Array;
}

/** One SGD step in train mode. */
export interface TrainStepFixture {
  /** Seed of this step's input and labels. */
  inputSeed: number;
  /** The input batch, NCHW. */
  input: Float32Array;
  /** Class labels. */
  labels: number[];
  /** Mean cross-entropy of the forward pass before the update (float64). */
  loss: number;
  /** Logits of that forward pass. */
  logits: Float32Array;
  /** Every parameter's gradient and updated value at its sample indices. */
  samples: Map<string, ParameterSamples>;
  /** Full gradients of the parameters in {@linkcode TrainFixture.fullTensors}. */
  grad: Map<string, Float32Array>;
  /** Full updated values of those parameters. */
  value: Map<string, Float32Array>;
  /** Every BatchNorm's running mean after the step, by module name (e.g. `"layer1.0.bn1"`). */
  runningMean: Map<string, Float32Array>;
  /** Every BatchNorm's running variance after the step. */
  runningVar: Map<string, Float32Array>;
  /** Every BatchNorm's `num_batches_tracked` after the step. */
  numBatchesTracked: Map<string, number>;
}

/**
 * SGD steps of a torchvision model: two of resnet18 (momentum in play on the second), one of a small
 * ResNeXt (`ResNet(Bottleneck, [2, 1, 1, 1], groups=32, width_per_group=4)`, without BatchNorm statistics).
 */
export interface TrainFixture {
  /** `"resnet18"` or `"resnext_32x4d"` (the small ResNeXt). */
  arch: string;
  /** 10. */
  numClasses: number;
  /** Seed of the deterministic initial weights (running stats and `num_batches_tracked` included). */
  weightSeed: number;
  /** `[4, 3, 32, 32]`. */
  inputShape: number[];
  /** Learning rate. */
  lr: number;
  /** SGD momentum. */
  momentum: number;
  /** L2 weight decay, applied to every parameter. */
  weightDecay: number;
  /** How PyTorch computed it. */
  notes: string;
  /** Parameters stored in full in each step's `grad` and `value`. */
  fullTensors: string[];
  /** The model's state dict names and shapes. */
  stateDict: StateDictEntries;
  /** The two steps, in order. */
  steps: TrainStepFixture[];
}

/** The CIFAR ResNet-20 in three checkpoint files, with an eval-mode forward pass. */
export interface Resnet20Fixture {
  /** Seed of the deterministic weights. */
  weightSeed: number;
  /** Seed of the deterministic input. */
  inputSeed: number;
  /** Written by `torch.save(model.state_dict(), path)`. */
  pth: URL;
  /** The same tensors as safetensors (F32, `num_batches_tracked` as I64). */
  safetensors: URL;
  /** The same with every float tensor as F16. */
  safetensorsF16: URL;
  /** The safetensors files' `__metadata__`. */
  metadata: Record<string, string>;
  /** The input batch, NCHW. */
  input: Float32Array;
  /** `[4, 3, 32, 32]`. */
  inputShape: number[];
  /** PyTorch's eval-mode logits, `[4, 10]`. */
  logits: Float32Array;
  /** The model's state dict names and shapes. */
  stateDict: StateDictEntries;
}

/** A value as the fixtures' JSON stores it: non-finite floats and int64 values are strings. */
export type JsonValue = number | string;

/** Expected contents of one tensor of `io/dtypes.pth`. */
export interface ExpectedTensor {
  /** PyTorch's shape. */
  shape: number[];
  /** The stored dtype. */
  dtype: "F32" | "F16" | "BF16" | "I64";
  /** The values in C order, widened to float32 (see {@linkcode JsonValue}). */
  values: JsonValue[];
}

/** Checkpoint files for the io tests. */
export interface IoFixtures {
  /** A `torch.save`d dict of F32/F16/BF16/I64 tensors, views, a scalar, an empty tensor and a Parameter. */
  dtypesPth: URL;
  /** F32, F16, BF16, I64, scalar and empty tensors as safetensors, written by hand in Python. */
  dtypesSafetensors: URL;
  /** What those two files hold, by tensor name. */
  dtypesExpected: Record<string, ExpectedTensor>;
  /** A checkpoint in PyTorch's legacy (non-zip) format. */
  legacyPth: URL;
  /** `{"epoch": 3, "state_dict": {"fc.weight": ones(2, 2), "fc.bias": zeros(2)}}`. */
  wrappedPth: URL;
  /** A whole pickled `nn.Linear` rather than a state dict. */
  modulePth: URL;
}

/** One check of the deterministic generator: values the Python side produced. */
export type GeneratorSample =
  | { name: string; shape: number[]; seed: number; indices: number[]; values: JsonValue[] }
  | { input: number[]; seed: number; indices: number[]; values: JsonValue[] }
  | { labels: number; classes: number; seed: number; values: number[] };

interface ArrayRef {
  file: string;
  shape: number[];
}

interface TrainManifest extends Omit<TrainFixture, "steps"> {
  sampleIndices: Record<string, number[]>;
  steps: Array<
    { inputSeed: number; labels: number[]; loss: number; numBatchesTracked: Record<string, number> }
  >;
  data: { file: string; arrays: Record<string, { offset: number; shape: number[] }> };
}

interface Manifest {
  about: string;
  generator: GeneratorSample[];
  forward: Array<
    Omit<ForwardFixture, "input" | "inputShape" | "logits"> & { input: ArrayRef; logits: ArrayRef }
  >;
  train: TrainManifest;
  trainResnext: TrainManifest;
  resnet20: {
    weightSeed: number;
    inputSeed: number;
    pth: string;
    safetensors: string;
    safetensorsF16: string;
    metadata: Record<string, string>;
    input: ArrayRef;
    logits: ArrayRef;
    stateDict: StateDictEntries;
  };
  io: Record<keyof IoFixtures, string>;
}

const ROOT = new URL("./fixtures/", import.meta.url);

/** The URL of a file under `tests/fixtures/`. */
export function fixtureUrl(relative: string): URL {
  return new URL(relative, ROOT);
}

let manifest: Promise<Manifest> | undefined;

function loadManifest(): Promise<Manifest> {
  manifest ??= Deno.readTextFile(fixtureUrl("manifest.json")).then(JSON.parse);
  return manifest;
}

async function readFloats(relative: string): Promise<Float32Array> {
  const bytes = await Deno.readFile(fixtureUrl(relative));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** Parses a {@linkcode JsonValue} float: `"inf"`, `"-inf"` and `"nan"` stand for the non-finite values. */
export function jsonFloat(value: JsonValue): number {
  if (typeof value === "number") return value;
  return value === "nan" ? NaN : value === "inf" ? Infinity : value === "-inf" ? -Infinity : Number(value);
}

/** The generator checks of the manifest. */
export async function loadGeneratorSamples(): Promise<GeneratorSample[]> {
  return (await loadManifest()).generator;
}

/** The eval-mode forward fixtures: resnet18/34/50 with 10 classes, resnet18/50 with 1000. */
export async function loadForwardFixtures(): Promise<ForwardFixture[]> {
  const { forward } = await loadManifest();
  return await Promise.all(forward.map(async (f) => ({
    ...f,
    input: await readFloats(f.input.file),
    inputShape: f.input.shape,
    logits: await readFloats(f.logits.file),
  })));
}

/** The two-step SGD fixture of resnet18 (`"train"`) or the one-step one of the small ResNeXt. */
export async function loadTrainFixture(which: "train" | "trainResnext" = "train"): Promise<TrainFixture> {
  const { sampleIndices, data, steps, ...rest } = (await loadManifest())[which];
  const all = await readFloats(data.file);
  const array = (key: string): Float32Array => {
    const ref = data.arrays[key];
    if (!ref) throw new Error(`train fixture: no array "${key}"`);
    return all.subarray(ref.offset, ref.offset + ref.shape.reduce((a, b) => a * b, 1));
  };
  const byPrefix = (prefix: string): Map<string, Float32Array> =>
    new Map(
      Object.keys(data.arrays).filter((k) => k.startsWith(prefix)).map((
        k,
      ) => [k.slice(prefix.length), array(k)]),
    );
  return {
    ...rest,
    steps: steps.map((step, i) => ({
      inputSeed: step.inputSeed,
      input: array(`step${i}.input`),
      labels: step.labels,
      loss: step.loss,
      logits: array(`step${i}.logits`),
      samples: new Map(
        Object.entries(sampleIndices).map(([name, indices]) => [name, {
          indices,
          grad: array(`step${i}.gradSamples.${name}`),
          value: array(`step${i}.valueSamples.${name}`),
        }]),
      ),
      grad: byPrefix(`step${i}.grad.`),
      value: byPrefix(`step${i}.value.`),
      runningMean: byPrefix(`step${i}.runningMean.`),
      runningVar: byPrefix(`step${i}.runningVar.`),
      numBatchesTracked: new Map(Object.entries(step.numBatchesTracked)),
    })),
  };
}

/** The ResNet-20 checkpoints and forward pass. */
export async function loadResnet20Fixture(): Promise<Resnet20Fixture> {
  const { resnet20: r } = await loadManifest();
  return {
    weightSeed: r.weightSeed,
    inputSeed: r.inputSeed,
    pth: fixtureUrl(r.pth),
    safetensors: fixtureUrl(r.safetensors),
    safetensorsF16: fixtureUrl(r.safetensorsF16),
    metadata: r.metadata,
    input: await readFloats(r.input.file),
    inputShape: r.input.shape,
    logits: await readFloats(r.logits.file),
    stateDict: r.stateDict,
  };
}

/** The checkpoint files of the io tests. */
export async function loadIoFixtures(): Promise<IoFixtures> {
  const { io } = await loadManifest();
  return {
    dtypesPth: fixtureUrl(io.dtypesPth),
    dtypesSafetensors: fixtureUrl(io.dtypesSafetensors),
    dtypesExpected: JSON.parse(await Deno.readTextFile(fixtureUrl(io.dtypesExpected))),
    legacyPth: fixtureUrl(io.legacyPth),
    wrappedPth: fixtureUrl(io.wrappedPth),
    modulePth: fixtureUrl(io.modulePth),
  };
}
