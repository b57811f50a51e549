/**
 * The from-scratch ResNet of a typical PyTorch tutorial, written with this module's public API: a residual
 * block class, a make-layer helper and layers [3, 4, 6, 3] (a ResNet-34 shape for 32x32 images).
 *
 * Run: `deno run -A examples/tutorial_resnet.ts`
 *
 * @module
 */

import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Gpu,
  Linear,
  Module,
  ReLU,
  Sequential,
  summary,
  type SymbolicTensor,
  TrainingStep,
} from "../mod.ts";

/** Two 3x3 convolutions and a shortcut that matches the shape when it changes. */
export class ResidualBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU = new ReLU();
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample?: Sequential;

  constructor(inChannels: number, outChannels: number, stride = 1) {
    super();
    this.conv1 = new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false });
    this.bn1 = new BatchNorm2d(outChannels);
    this.conv2 = new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false });
    this.bn2 = new BatchNorm2d(outChannels);
    if (stride !== 1 || inChannels !== outChannels) {
      this.downsample = new Sequential(
        new Conv2d(inChannels, outChannels, 1, { stride, bias: false }),
        new BatchNorm2d(outChannels),
      );
    }
  }

  forward(x: SymbolicTensor): SymbolicTensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    const residual = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(out.add(residual));
  }
}

/** The tutorial's ResNet: a 3x3 stem, four stages made by `makeLayer`, pooling and a linear classifier. */
export class TutorialResNet extends Module {
  readonly conv1: Conv2d = new Conv2d(3, 64, 3, { padding: 1, bias: false });
  readonly bn1: BatchNorm2d = new BatchNorm2d(64);
  readonly relu: ReLU = new ReLU();
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  readonly flatten: Flatten = new Flatten();
  readonly fc: Linear;
  #inChannels = 64;

  constructor(layers: [number, number, number, number], numClasses = 10) {
    super();
    this.layer1 = this.makeLayer(64, layers[0], 1);
    this.layer2 = this.makeLayer(128, layers[1], 2);
    this.layer3 = this.makeLayer(256, layers[2], 2);
    this.layer4 = this.makeLayer(512, layers[3], 2);
    this.fc = new Linear(512, numClasses);
  }

  makeLayer(outChannels: number, blocks: number, stride: number): Sequential {
    const layers = [new ResidualBlock(this.#inChannels, outChannels, stride)];
    this.#inChannels = outChannels;
    for (let i = 1; i < blocks; i++) layers.push(new ResidualBlock(outChannels, outChannels));
    return new Sequential(...layers);
  }

  forward(x: SymbolicTensor): SymbolicTensor {
    x = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    x = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(x))));
    return this.fc.forward(this.flatten.forward(this.avgpool.forward(x)));
  }
}

if (import.meta.main) {
  const model = new TutorialResNet([3, 4, 6, 3]);
  console.log(summary(model.trace([3, 32, 32])).text);
  const gpu = await Gpu.create();
  const batchSize = 4;
  const training = await TrainingStep.compile(gpu, model, {
    batchSize,
    optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  });
  const images = Float32Array.from({ length: batchSize * 3 * 32 * 32 }, () => Math.random() * 2 - 1);
  training.setBatch(images, [0, 1, 2, 3]);
  training.step();
  console.log("one training step:", await training.readStats());
}
