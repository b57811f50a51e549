import { Gpu } from "./src/gpu/device.ts";
import { TrainingStep } from "./src/train/training.ts";
import { buildModel } from "./src/train/run_config.ts";
const gpu = await Gpu.create();
for (const b of [4, 8, 16]) {
  const model = buildModel("resnet20", { numClasses: 10, seed: 0 });
  const training = await TrainingStep.compile(gpu, model, { batchSize: b, optimizer: { lr: 0.1, momentum: 0.9 } });
  training.setBatch(new Float32Array(b * 3072), new Uint32Array(b));
  training.step(); await training.readStats();
  const t = performance.now();
  for (let i = 0; i < 3; i++) training.step();
  await training.readStats();
  console.log(b, ((performance.now() - t) / 3000).toFixed(2), "s/step");
}
