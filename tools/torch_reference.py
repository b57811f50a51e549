"""PyTorch's figures for the configurations of bench/train_bench.ts, on a CUDA GPU.

Run on a machine with PyTorch, torchvision and a CUDA GPU (BENCHMARKS.md, "Real GPUs"):

    python3 tools/torch_reference.py

Prints, for torchvision's resnet18 (10 classes, 32x32 inputs) in float32 with TF32 off:
- torch.cuda.max_memory_allocated() over SGD training steps (lr 0.1, momentum 0.9, weight decay 5e-4) of
  the CIFAR stem at batch 128, the issue's memory comparison, with cuDNN's autotune off (PyTorch's default)
  and on;
- training and inference images/s at batch 64 for both stems, the bench's throughput configuration.
"""

import time

import torch
import torch.nn as nn
import torchvision

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def resnet18(stem):
    model = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model.cuda()


def train_step(model, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()


def batch(size):
    return torch.randn(size, 3, 32, 32, device="cuda"), torch.randint(0, 10, (size,), device="cuda")


def peak_training_memory(stem, batch_size, benchmark):
    torch.backends.cudnn.benchmark = benchmark
    model = resnet18(stem).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    images, labels = batch(batch_size)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(3):
        train_step(model, optimizer, images, labels)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, optimizer, images, labels
    torch.cuda.empty_cache()
    return peak


def images_per_second(stem, batch_size, mode, steps=50):
    torch.backends.cudnn.benchmark = False
    model = resnet18(stem)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = batch(batch_size)

    def run():
        if mode == "train":
            model.train()
            train_step(model, optimizer, images, labels)
        else:
            model.eval()
            with torch.no_grad():
                model(images)

    for _ in range(5):
        run()
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times.sort()
    return batch_size / times[len(times) // 2]


def main():
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.cuda.get_device_name()}")
    print("float32, TF32 off")
    for benchmark in (False, True):
        peak = peak_training_memory("cifar", 128, benchmark)
        print(f"resnet18 cifar stem, batch 128, SGD training, cudnn.benchmark={benchmark}: "
              f"max_memory_allocated {peak / 2**20:.1f} MiB")
    for stem in ("imagenet", "cifar"):
        for mode in ("train", "inference"):
            rate = images_per_second(stem, 64, mode)
            print(f"resnet18 {stem} stem, batch 64, {mode}: {rate:.0f} img/s (median of 50 steps)")


if __name__ == "__main__":
    main()
