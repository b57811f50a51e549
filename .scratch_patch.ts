// LOCAL SCRATCH ONLY (not part of the project): exposes TrainingStep's momentum buffer until the lead adds it.
import { TrainingStep } from "./src/train/training.ts";
const original = TrainingStep.compile;
(TrainingStep as unknown as { compile: typeof original }).compile = async (gpu, model, options) => {
  let captured: GPUBuffer | undefined;
  const buffer = gpu.buffer;
  gpu.buffer = (label: string, size: number, extra?: number) => {
    const b = buffer.call(gpu, label, size, extra);
    if (label === "momentum buffers") captured = b;
    return b;
  };
  try {
    const t = await original.call(TrainingStep, gpu, model, options);
    if (!("momentum" in t)) Object.assign(t, { momentum: captured });
    return t;
  } finally {
    gpu.buffer = buffer;
  }
};
