/**
 * ResNets as torchvision's `models/resnet.py` defines them (He et al., "Deep Residual Learning for Image
 * Recognition", 2015), with the same module and parameter names, plus the CIFAR ResNets of the paper's
 * section 4.2 (resnet20 ... resnet110).
 *
 * @module
 */

import type { SymbolicTensor } from "../nn/graph.ts";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU } from "../nn/layers.ts";
import { Module, Sequential } from "../nn/module.ts";

/** 3x3 convolution with padding. */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false });
}

/** 1x1 convolution. */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** A residual block class: what {@linkcode makeLayer} stacks. */
export interface BlockClass {
  /** Output channels = planes * expansion. */
  readonly expansion: number;
  /** Makes a block. */
  new (inPlanes: number, planes: number, stride?: number, downsample?: Sequential): Module;
}

/** Two 3x3 convolutions with a shortcut (resnet18/34 and the CIFAR ResNets). */
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

  /** As torchvision's `BasicBlock(inplanes, planes, stride, downsample)`. */
  constructor(inPlanes: number, planes: number, stride = 1, downsample?: Sequential) {
    super();
    this.conv1 = conv3x3(inPlanes, planes, stride);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes);
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

/** 1x1, 3x3 (with the stride, as torchvision's "ResNet V1.5") and 1x1 convolutions with a shortcut. */
export class Bottleneck extends Module {
  /** Output channels per `planes`. */
  static readonly expansion = 4;
  /** 1x1 reduction. */
  readonly conv1: Conv2d;
  /** Its BatchNorm. */
  readonly bn1: BatchNorm2d;
  /** 3x3 convolution carrying the stride. */
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

  /** As torchvision's `Bottleneck(inplanes, planes, stride, downsample)`. */
  constructor(inPlanes: number, planes: number, stride = 1, downsample?: Sequential) {
    super();
    this.conv1 = conv1x1(inPlanes, planes);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, stride);
    this.bn2 = new BatchNorm2d(planes);
    this.conv3 = conv1x1(planes, planes * Bottleneck.expansion);
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
 */
export function makeLayer(
  block: BlockClass,
  inPlanes: number,
  planes: number,
  blocks: number,
  stride = 1,
): { layer: Sequential; outPlanes: number } {
  const outPlanes = planes * block.expansion;
  const downsample = stride !== 1 || inPlanes !== outPlanes
    ? new Sequential(conv1x1(inPlanes, outPlanes, stride), new BatchNorm2d(outPlanes))
    : undefined;
  const layers = [new block(inPlanes, planes, stride, downsample)];
  for (let i = 1; i < blocks; i++) layers.push(new block(outPlanes, planes));
  return { layer: new Sequential(...layers), outPlanes };
}

/** Options of the ResNet constructors. */
export interface ResNetOptions {
  /** Classifier outputs; 1000 (ImageNet) by default, as torchvision. */
  numClasses?: number;
  /**
   * `"imagenet"` (default): torchvision's 7x7 stride-2 convolution and 3x3 max-pool. `"cifar"`: one 3x3
   * stride-1 convolution and no max-pool, for 32x32 inputs.
   */
  stem?: "imagenet" | "cifar";
}

/** torchvision's `ResNet`: a stem, four stages of 64/128/256/512 planes, global average pool and `fc`. */
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
  /** Stage 4. */
  readonly layer4: Sequential;
  /** Global average pool. */
  readonly avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  /** The classifier. */
  fc: Linear;
  readonly #flatten = new Flatten();

  /** As torchvision's `ResNet(block, layers, num_classes)`. */
  constructor(block: BlockClass, layers: [number, number, number, number], options: ResNetOptions = {}) {
    super();
    const cifar = options.stem === "cifar";
    this.conv1 = cifar ? conv3x3(3, 64) : new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new BatchNorm2d(64);
    if (!cifar) this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    let planes = 64;
    [this.layer1, planes] = stage(block, planes, 64, layers[0], 1);
    [this.layer2, planes] = stage(block, planes, 128, layers[1], 2);
    [this.layer3, planes] = stage(block, planes, 256, layers[2], 2);
    [this.layer4, planes] = stage(block, planes, 512, layers[3], 2);
    this.fc = new Linear(512 * block.expansion, options.numClasses ?? 1000);
  }

  /** stem, four stages, pool, flatten, fc. */
  forward(x: SymbolicTensor): SymbolicTensor {
    x = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    if (this.maxpool) x = this.maxpool.forward(x);
    x = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(x))));
    return this.fc.forward(this.#flatten.forward(this.avgpool.forward(x)));
  }
}

function stage(
  block: BlockClass,
  inPlanes: number,
  planes: number,
  blocks: number,
  stride: number,
): [Sequential, number] {
  const { layer, outPlanes } = makeLayer(block, inPlanes, planes, blocks, stride);
  return [layer, outPlanes];
}

/** He et al.'s CIFAR ResNet (6n+2 layers): a 3x3 stem of 16 channels and three stages of 16/32/64. */
export class CifarResNet extends Module {
  /** Stem convolution. */
  readonly conv1: Conv2d = conv3x3(3, 16);
  /** Stem BatchNorm. */
  readonly bn1: BatchNorm2d = new BatchNorm2d(16);
  /** Stem ReLU. */
  readonly relu: ReLU = new ReLU();
  /** Stage 1 (16 channels). */
  readonly layer1: Sequential;
  /** Stage 2 (32 channels, stride 2). */
  readonly layer2: Sequential;
  /** Stage 3 (64 channels, stride 2). */
  readonly layer3: Sequential;
  /** Global average pool. */
  readonly avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  /** The classifier. */
  fc: Linear;
  readonly #flatten = new Flatten();

  /**
   * `blocksPerStage` = n of the paper (3 for resnet20). Shortcuts that change shape are 1x1 convolution +
   * BatchNorm (the paper's option B), so every parameter has a torchvision-style name.
   */
  constructor(blocksPerStage: number, options: { numClasses?: number } = {}) {
    super();
    let planes = 16;
    [this.layer1, planes] = stage(BasicBlock, planes, 16, blocksPerStage, 1);
    [this.layer2, planes] = stage(BasicBlock, planes, 32, blocksPerStage, 2);
    [this.layer3, planes] = stage(BasicBlock, planes, 64, blocksPerStage, 2);
    this.fc = new Linear(64, options.numClasses ?? 10);
  }

  /** stem, three stages, pool, flatten, fc. */
  forward(x: SymbolicTensor): SymbolicTensor {
    x = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    x = this.layer3.forward(this.layer2.forward(this.layer1.forward(x)));
    return this.fc.forward(this.#flatten.forward(this.avgpool.forward(x)));
  }
}

/** ResNet-18 (BasicBlock, [2, 2, 2, 2]): 11,689,512 parameters with 1000 classes. */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], options);
}

/** ResNet-34 (BasicBlock, [3, 4, 6, 3]): 21,797,672 parameters with 1000 classes. */
export function resnet34(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], options);
}

/** ResNet-50 (Bottleneck, [3, 4, 6, 3]): 25,557,032 parameters with 1000 classes. */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], options);
}

/** ResNet-101 (Bottleneck, [3, 4, 23, 3]). */
export function resnet101(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], options);
}

/** ResNet-152 (Bottleneck, [3, 8, 36, 3]). */
export function resnet152(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 8, 36, 3], options);
}

/** CIFAR ResNet-20 (n = 3). */
export function resnet20(options: { numClasses?: number } = {}): CifarResNet {
  return new CifarResNet(3, options);
}

/** CIFAR ResNet-32 (n = 5). */
export function resnet32(options: { numClasses?: number } = {}): CifarResNet {
  return new CifarResNet(5, options);
}

/** CIFAR ResNet-44 (n = 7). */
export function resnet44(options: { numClasses?: number } = {}): CifarResNet {
  return new CifarResNet(7, options);
}

/** CIFAR ResNet-56 (n = 9). */
export function resnet56(options: { numClasses?: number } = {}): CifarResNet {
  return new CifarResNet(9, options);
}

/** CIFAR ResNet-110 (n = 18). */
export function resnet110(options: { numClasses?: number } = {}): CifarResNet {
  return new CifarResNet(18, options);
}
