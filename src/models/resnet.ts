/**
 * ResNets as torchvision's `models/resnet.py` defines them (He et al., "Deep Residual Learning for Image
 * Recognition", 2015), with the same module and parameter names and initialisation, its ResNeXts (Xie et al.,
 * 2017: grouped 3x3 convolutions) and Wide ResNets (Zagoruyko and Komodakis, 2016: wider bottlenecks), plus
 * the CIFAR ResNets of the paper's section 4.2 (resnet20 ... resnet110), which share their body. A model's
 * initial weights depend only on its `seed` option.
 *
 * @module
 */

import type { SymbolicTensor } from "../nn/graph.ts";
import { Generator, kaimingNormal } from "../nn/init.ts";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU } from "../nn/layers.ts";
import { Module, Sequential } from "../nn/module.ts";

/**
 * 3x3 convolution with padding, without bias (a BatchNorm follows); `groups` splits the channels into
 * that many independent convolutions (1 by default).
 *
 * @example
 * ```ts
 * import { conv3x3, Generator } from "@denogpu/resnet";
 * const conv = conv3x3(64, 128, 2, new Generator(0)); // halves the feature map
 * const grouped = conv3x3(128, 128, 1, new Generator(0), 32); // ResNeXt's: 32 groups of 4 channels
 * ```
 */
export function conv3x3(
  inPlanes: number,
  outPlanes: number,
  stride = 1,
  generator?: Generator,
  groups = 1,
): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, groups, bias: false, generator });
}

/**
 * 1x1 convolution without bias (a BatchNorm follows).
 *
 * @example
 * ```ts
 * import { conv1x1 } from "@denogpu/resnet";
 * const projection = conv1x1(64, 256); // a Bottleneck's expansion
 * ```
 */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1, generator?: Generator): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false, generator });
}

/** The options of a residual block: torchvision's `groups` and `base_width`, and where weights come from. */
export interface BlockOptions {
  /** Groups of the 3x3 convolution (ResNeXt's cardinality); only a Bottleneck takes other than 1. @default {1} */
  groups?: number;
  /**
   * Channels per group at 64 planes (torchvision's `base_width`): a Bottleneck's 3x3 convolution has
   * `floor(planes * baseWidth / 64) * groups` channels. Only a Bottleneck takes other than 64. @default {64}
   */
  baseWidth?: number;
  /** The stream the initial weights are drawn from; a freshly seeded one by default. */
  generator?: Generator;
}

/** A residual block class: what {@linkcode makeLayer} stacks. */
export interface BlockClass {
  /** Output channels = planes * expansion. */
  readonly expansion: number;
  /** Makes a block whose layers draw their initial weights from `options.generator`. */
  new (
    inPlanes: number,
    planes: number,
    stride?: number,
    downsample?: Sequential,
    options?: BlockOptions,
  ): Module;
}

/**
 * Two 3x3 convolutions with a shortcut (resnet18/34 and the CIFAR ResNets).
 *
 * @example
 * ```ts
 * import { BasicBlock } from "@denogpu/resnet";
 * const block = new BasicBlock(64, 64);
 * block.trace([64, 8, 8]);
 * ```
 */
export class BasicBlock extends Module {
  /** Output channels per `planes`. */
  static readonly expansion = 1;
  /** First 3x3 convolution (carries the stride). */
  readonly conv1: Conv2d;
  /** Its BatchNorm. */
  readonly bn1: BatchNorm2d;
  /** Shared ReLU. */
  readonly relu: ReLU = new ReLU();
  /** Second 3x3 convolution. */
  readonly conv2: Conv2d;
  /** Its BatchNorm. */
  readonly bn2: BatchNorm2d;
  /** 1x1 convolution + BatchNorm where the shape changes. */
  readonly downsample?: Sequential;

  /**
   * As torchvision's `BasicBlock(inplanes, planes, stride, downsample, groups, base_width)`.
   *
   * @throws {Error} When `options` asks for other than 1 group or a base width of 64, as torchvision does.
   */
  constructor(
    inPlanes: number,
    planes: number,
    stride = 1,
    downsample?: Sequential,
    options: BlockOptions = {},
  ) {
    super();
    const { groups = 1, baseWidth = 64, generator } = options;
    if (groups !== 1 || baseWidth !== 64) {
      throw new Error(`BasicBlock only supports groups=1 and baseWidth=64, got ${groups} and ${baseWidth}`);
    }
    this.conv1 = conv3x3(inPlanes, planes, stride, generator);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, 1, generator);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = downsample;
  }

  /** conv-bn-relu-conv-bn, plus the shortcut, then ReLU. */
  forward(x: SymbolicTensor): SymbolicTensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(out.add(identity, this.path));
  }
}

/**
 * 1x1, 3x3 (with the stride, as torchvision's "ResNet V1.5") and 1x1 convolutions with a shortcut. The
 * 3x3 convolution is `floor(planes * baseWidth / 64) * groups` channels wide and split into `groups`
 * (ResNeXt); a `baseWidth` of 128 doubles it (Wide ResNet).
 *
 * @example
 * ```ts
 * import { Bottleneck, conv1x1, BatchNorm2d, Sequential } from "@denogpu/resnet";
 * const block = new Bottleneck(64, 64, 1, new Sequential(conv1x1(64, 256), new BatchNorm2d(256)));
 * block.trace([64, 8, 8]); // 256 channels out
 * const next = new Bottleneck(64, 64, 1, new Sequential(conv1x1(64, 256), new BatchNorm2d(256)), {
 *   groups: 32,
 *   baseWidth: 4,
 * }); // resnext50_32x4d's first block: a 3x3 convolution of 32 groups of 4 channels
 * ```
 */
export class Bottleneck extends Module {
  /** Output channels per `planes`. */
  static readonly expansion = 4;
  /** 1x1 reduction. */
  readonly conv1: Conv2d;
  /** Its BatchNorm. */
  readonly bn1: BatchNorm2d;
  /** 3x3 convolution carrying the stride (grouped in a ResNeXt). */
  readonly conv2: Conv2d;
  /** Its BatchNorm. */
  readonly bn2: BatchNorm2d;
  /** 1x1 expansion. */
  readonly conv3: Conv2d;
  /** Its BatchNorm. */
  readonly bn3: BatchNorm2d;
  /** Shared ReLU. */
  readonly relu: ReLU = new ReLU();
  /** 1x1 convolution + BatchNorm where the shape changes. */
  readonly downsample?: Sequential;

  /** As torchvision's `Bottleneck(inplanes, planes, stride, downsample, groups, base_width)`. */
  constructor(
    inPlanes: number,
    planes: number,
    stride = 1,
    downsample?: Sequential,
    options: BlockOptions = {},
  ) {
    super();
    const { groups = 1, baseWidth = 64, generator } = options;
    const width = Math.floor(planes * (baseWidth / 64)) * groups;
    this.conv1 = conv1x1(inPlanes, width, 1, generator);
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = conv3x3(width, width, stride, generator, groups);
    this.bn2 = new BatchNorm2d(width);
    this.conv3 = conv1x1(width, planes * Bottleneck.expansion, 1, generator);
    this.bn3 = new BatchNorm2d(planes * Bottleneck.expansion);
    this.downsample = downsample;
  }

  /** The bottleneck, plus the shortcut, then ReLU. */
  forward(x: SymbolicTensor): SymbolicTensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.relu.forward(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(out.add(identity, this.path));
  }
}

/**
 * One stage: `blocks` residual blocks, the first with `stride` and, where the shape changes, a 1x1
 * convolution + BatchNorm shortcut. Returns the stage and its output channels.
 *
 * @example
 * ```ts
 * import { BasicBlock, makeLayer } from "@denogpu/resnet";
 * const { layer, outPlanes } = makeLayer(BasicBlock, 64, 128, 2, { stride: 2 }); // outPlanes: 128
 * ```
 */
export function makeLayer(
  block: BlockClass,
  inPlanes: number,
  planes: number,
  blocks: number,
  options: { stride?: number } & BlockOptions = {},
): { layer: Sequential; outPlanes: number } {
  const { stride = 1, ...blockOptions } = options;
  const { generator } = blockOptions;
  const outPlanes = planes * block.expansion;
  const downsample = stride !== 1 || inPlanes !== outPlanes
    ? new Sequential(conv1x1(inPlanes, outPlanes, stride, generator), new BatchNorm2d(outPlanes))
    : undefined;
  const layers = [new block(inPlanes, planes, stride, downsample, blockOptions)];
  for (let i = 1; i < blocks; i++) layers.push(new block(outPlanes, planes, 1, undefined, blockOptions));
  return { layer: new Sequential(...layers), outPlanes };
}

/** The stem of a ResNet: 7x7 stride-2 convolution + 3x3 max-pool (`imagenet`) or one 3x3 stride-1 (`cifar`). */
export type Stem = "imagenet" | "cifar";

/** Options of the ResNet constructors. */
export interface ResNetOptions {
  /** Classifier outputs; 1000 (ImageNet) by default, as torchvision. */
  numClasses?: number;
  /**
   * `"imagenet"` (default): torchvision's 7x7 stride-2 convolution and 3x3 max-pool. `"cifar"`: one 3x3
   * stride-1 convolution and no max-pool, for 32x32 inputs.
   */
  stem?: Stem;
  /**
   * Planes of each stage, one per entry of `layers`; torchvision's 64, 128, 256, 512 by default. The stem
   * has as many channels as the first stage.
   */
  planes?: readonly number[];
  /** Groups of each Bottleneck's 3x3 convolution (torchvision's `groups`; ResNeXt's cardinality). @default {1} */
  groups?: number;
  /**
   * Channels of each group of a Bottleneck's 3x3 convolution at 64 planes (torchvision's `width_per_group`):
   * 4 in resnext50_32x4d, 128 in wide_resnet50_2. @default {64}
   */
  widthPerGroup?: number;
  /** Seeds the initial weights: the same seed gives the same model; a fresh random seed by default. */
  seed?: number;
  /**
   * Start each block's last BatchNorm at weight 0, so that every residual branch starts as the identity
   * (torchvision's `zero_init_residual`; Goyal et al. 2017). Default false.
   */
  zeroInitResidual?: boolean;
}

/** The options of the ResNeXts and Wide ResNets, whose `groups` and `widthPerGroup` their names fix. */
export type ResNeXtOptions = Omit<ResNetOptions, "groups" | "widthPerGroup">;

/** The options of the CIFAR ResNets, whose stem and planes the paper fixes. */
export type CifarResNetOptions = Pick<ResNetOptions, "numClasses" | "seed" | "zeroInitResidual">;

/**
 * torchvision's `ResNet`: a stem, stages of residual blocks (64/128/256/512 planes by default), global
 * average pool and `fc`. Initialised as torchvision's `ResNet.__init__` does: Kaiming normal (fan-out, ReLU
 * gain) for every convolution, BatchNorm at weight 1 and bias 0, `fc` with `nn.Linear`'s default.
 *
 * @example
 * ```ts
 * import { BasicBlock, ResNet } from "@denogpu/resnet";
 * const tiny = new ResNet(BasicBlock, [1, 1, 1, 1], { numClasses: 10, stem: "cifar", seed: 0 });
 * ```
 */
export class ResNet extends Module {
  /** Stem convolution. */
  readonly conv1: Conv2d;
  /** Stem BatchNorm. */
  readonly bn1: BatchNorm2d;
  /** Stem ReLU. */
  readonly relu: ReLU = new ReLU();
  /** Stem max-pool (absent with the CIFAR stem). */
  readonly maxpool?: MaxPool2d;
  /** Stage 1. */
  readonly layer1: Sequential;
  /** Stage 2. */
  readonly layer2: Sequential;
  /** Stage 3. */
  readonly layer3: Sequential;
  /** Stage 4 (absent in He et al.'s three-stage CIFAR ResNets). */
  readonly layer4?: Sequential;
  /** Global average pool. */
  readonly avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  /** The classifier. */
  fc: Linear;
  readonly #flatten = new Flatten();

  /**
   * As torchvision's `ResNet(block, layers, num_classes, zero_init_residual, groups, width_per_group)`:
   * `layers` holds the blocks of each stage (three or four stages).
   *
   * @throws {Error} When `layers` and `planes` differ in length or give other than three or four stages.
   */
  constructor(block: BlockClass, layers: readonly number[], options: ResNetOptions = {}) {
    super();
    const planes = options.planes ?? [64, 128, 256, 512];
    if (layers.length !== planes.length || layers.length < 3 || layers.length > 4) {
      throw new Error(
        `ResNet: layers [${layers}] and planes [${planes}] must both give three or four stages`,
      );
    }
    const generator = new Generator(options.seed);
    const stemPlanes = planes[0];
    if (options.stem === "cifar") this.conv1 = conv3x3(3, stemPlanes, 1, generator);
    else {
      this.conv1 = new Conv2d(3, stemPlanes, 7, { stride: 2, padding: 3, bias: false, generator });
      this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    }
    this.bn1 = new BatchNorm2d(stemPlanes);
    let inPlanes = stemPlanes;
    const stages = layers.map((blocks, i) => {
      const stage = makeLayer(block, inPlanes, planes[i], blocks, {
        stride: i === 0 ? 1 : 2,
        groups: options.groups,
        baseWidth: options.widthPerGroup,
        generator,
      });
      inPlanes = stage.outPlanes;
      return stage.layer;
    });
    [this.layer1, this.layer2, this.layer3, this.layer4] = stages;
    this.fc = new Linear(inPlanes, options.numClasses ?? 1000, { generator });
    initialiseResNet(this, generator, options.zeroInitResidual ?? false);
  }

  /** stem, the stages, pool, flatten, fc. */
  forward(x: SymbolicTensor): SymbolicTensor {
    x = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    if (this.maxpool) x = this.maxpool.forward(x);
    for (const stage of [this.layer1, this.layer2, this.layer3, this.layer4]) if (stage) x = stage.forward(x);
    return this.fc.forward(this.#flatten.forward(this.avgpool.forward(x)));
  }
}

/** The weight loop at the end of torchvision's `ResNet.__init__`. */
function initialiseResNet(model: ResNet, generator: Generator, zeroInitResidual: boolean): void {
  // BatchNorm2d already starts at weight 1 and bias 0, which torchvision's loop sets again.
  for (const module of modulesOf(model)) {
    if (module instanceof Conv2d) kaimingNormal(module.weight, { mode: "fanOut", generator });
    else if (zeroInitResidual && module instanceof Bottleneck) module.bn3.weight.data.fill(0);
    else if (zeroInitResidual && module instanceof BasicBlock) module.bn2.weight.data.fill(0);
  }
}

/** `module` and every module below it, in registration order, as PyTorch's `Module.modules()`. */
function modulesOf(module: Module): Module[] {
  return [module, ...module.children().flatMap(([, child]) => modulesOf(child))];
}

/**
 * He et al.'s CIFAR ResNet (6n+2 layers): a 3x3 stem of 16 channels, three stages of n BasicBlocks with
 * 16/32/64 planes, global average pool and a 10-way `fc`. Shortcuts that change shape are 1x1 convolution +
 * BatchNorm (the paper's option B), so every parameter has a torchvision-style name.
 *
 * @example
 * ```ts
 * import { CifarResNet } from "@denogpu/resnet";
 * const resnet20 = new CifarResNet(3, { seed: 0 }); // 3 * 6 + 2 = 20 layers
 * ```
 */
export class CifarResNet extends ResNet {
  /** `blocksPerStage` = n of the paper (3 for resnet20). */
  constructor(blocksPerStage: number, options: CifarResNetOptions = {}) {
    super(BasicBlock, [blocksPerStage, blocksPerStage, blocksPerStage], {
      numClasses: options.numClasses ?? 10,
      stem: "cifar",
      planes: [16, 32, 64],
      seed: options.seed,
      zeroInitResidual: options.zeroInitResidual,
    });
  }
}

/**
 * ResNet-18 (BasicBlock, [2, 2, 2, 2]): 11,689,512 parameters with 1000 classes.
 *
 * @example
 * ```ts
 * import { resnet18 } from "@denogpu/resnet";
 * const model = resnet18({ numClasses: 10, stem: "cifar", seed: 0 });
 * ```
 */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], options);
}

/**
 * ResNet-34 (BasicBlock, [3, 4, 6, 3]): 21,797,672 parameters with 1000 classes.
 *
 * @example
 * ```ts
 * import { resnet34 } from "@denogpu/resnet";
 * const model = resnet34({ seed: 0 });
 * ```
 */
export function resnet34(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], options);
}

/**
 * ResNet-50 (Bottleneck, [3, 4, 6, 3]): 25,557,032 parameters with 1000 classes.
 *
 * @example
 * ```ts
 * import { resnet50 } from "@denogpu/resnet";
 * const model = resnet50({ seed: 0, zeroInitResidual: true });
 * ```
 */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], options);
}

/**
 * ResNet-101 (Bottleneck, [3, 4, 23, 3]).
 *
 * @example
 * ```ts
 * import { resnet101 } from "@denogpu/resnet";
 * const model = resnet101({ numClasses: 100 });
 * ```
 */
export function resnet101(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], options);
}

/**
 * ResNet-152 (Bottleneck, [3, 8, 36, 3]).
 *
 * @example
 * ```ts
 * import { resnet152 } from "@denogpu/resnet";
 * const model = resnet152({ seed: 1 });
 * ```
 */
export function resnet152(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 8, 36, 3], options);
}

/**
 * ResNeXt-50 32x4d (Bottleneck, [3, 4, 6, 3], 32 groups of 4 channels): 25,028,904 parameters with 1000
 * classes.
 *
 * @example
 * ```ts
 * import { resnext50_32x4d } from "@denogpu/resnet";
 * const model = resnext50_32x4d({ numClasses: 10, seed: 0 });
 * ```
 */
export function resnext50_32x4d(options: ResNeXtOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], { ...options, groups: 32, widthPerGroup: 4 });
}

/**
 * ResNeXt-101 32x8d (Bottleneck, [3, 4, 23, 3], 32 groups of 8 channels): 88,791,336 parameters with 1000
 * classes.
 *
 * @example
 * ```ts
 * import { resnext101_32x8d } from "@denogpu/resnet";
 * const model = resnext101_32x8d({ seed: 0 });
 * ```
 */
export function resnext101_32x8d(options: ResNeXtOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], { ...options, groups: 32, widthPerGroup: 8 });
}

/**
 * ResNeXt-101 64x4d (Bottleneck, [3, 4, 23, 3], 64 groups of 4 channels): 83,455,272 parameters with 1000
 * classes.
 *
 * @example
 * ```ts
 * import { resnext101_64x4d } from "@denogpu/resnet";
 * const model = resnext101_64x4d({ seed: 0 });
 * ```
 */
export function resnext101_64x4d(options: ResNeXtOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], { ...options, groups: 64, widthPerGroup: 4 });
}

/**
 * Wide ResNet-50-2 (Bottleneck, [3, 4, 6, 3], 3x3 convolutions twice resnet50's width): 68,883,240
 * parameters with 1000 classes.
 *
 * @example
 * ```ts
 * import { wide_resnet50_2 } from "@denogpu/resnet";
 * const model = wide_resnet50_2({ numClasses: 10, seed: 0 });
 * ```
 */
export function wide_resnet50_2(options: ResNeXtOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], { ...options, widthPerGroup: 64 * 2 });
}

/**
 * Wide ResNet-101-2 (Bottleneck, [3, 4, 23, 3], 3x3 convolutions twice resnet101's width): 126,886,696
 * parameters with 1000 classes.
 *
 * @example
 * ```ts
 * import { wide_resnet101_2 } from "@denogpu/resnet";
 * const model = wide_resnet101_2({ seed: 0 });
 * ```
 */
export function wide_resnet101_2(options: ResNeXtOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], { ...options, widthPerGroup: 64 * 2 });
}

/**
 * CIFAR ResNet-20 (n = 3): 272,474 parameters with 10 classes.
 *
 * @example
 * ```ts
 * import { resnet20 } from "@denogpu/resnet";
 * const model = resnet20({ seed: 0 });
 * ```
 */
export function resnet20(options: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(3, options);
}

/**
 * CIFAR ResNet-32 (n = 5).
 *
 * @example
 * ```ts
 * import { resnet32 } from "@denogpu/resnet";
 * const model = resnet32({ numClasses: 100, seed: 0 });
 * ```
 */
export function resnet32(options: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(5, options);
}

/**
 * CIFAR ResNet-44 (n = 7).
 *
 * @example
 * ```ts
 * import { resnet44 } from "@denogpu/resnet";
 * const model = resnet44({ seed: 0 });
 * ```
 */
export function resnet44(options: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(7, options);
}

/**
 * CIFAR ResNet-56 (n = 9).
 *
 * @example
 * ```ts
 * import { resnet56 } from "@denogpu/resnet";
 * const model = resnet56({ seed: 0 });
 * ```
 */
export function resnet56(options: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(9, options);
}

/**
 * CIFAR ResNet-110 (n = 18).
 *
 * @example
 * ```ts
 * import { resnet110 } from "@denogpu/resnet";
 * const model = resnet110({ seed: 0 });
 * ```
 */
export function resnet110(options: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(18, options);
}
