#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures under tests/fixtures/ (committed; not run in CI).

Run with Debian's PyTorch (`apt-get install python3-torch python3-torchvision`):

    /usr/bin/python3 tools/make_fixtures.py

No weights are stored for the reference models: every tensor comes from the integer hash that
tests/_weights.ts reproduces bit for bit (see that file). References are computed in float64 from the
float32 weights and inputs, then stored as little-endian float32. tests/fixtures/manifest.json describes
every file; tests/_fixtures.ts loads them.
"""

import collections
import json
import math
import pathlib
import re
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MASK = np.uint64(0xFFFFFFFF)

# ---------------------------------------------------------------------------------------------------------
# The deterministic generator (mirrors tests/_weights.ts exactly).


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def fmix32(x):
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(0x85EBCA6B)) & MASK
    x = x ^ (x >> np.uint64(13))
    x = (x * np.uint64(0xC2B2AE35)) & MASK
    return x ^ (x >> np.uint64(16))


def hashes(name, count, seed):
    t = (fnv1a32(name) + seed * 0x9E3779B9) & 0xFFFFFFFF
    base = np.uint64((t * 40503 + 12345) & 0xFFFFFFFF)
    i = np.arange(count, dtype=np.uint64)
    return fmix32((i * np.uint64(2654435761) + base) & MASK)


def uniform(name, count, seed):
    return hashes(name, count, seed).astype(np.float64) / 4294967296.0


def deterministic_tensor(name, shape, seed):
    count = int(np.prod(shape, dtype=np.int64))
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.from_numpy((hashes(name, count, seed) % np.uint64(1000)).astype(np.int64).reshape(shape))
    u = uniform(name, count, seed)
    if leaf == "weight" and len(shape) >= 2:
        v = (u - 0.5) * 2.0 / math.sqrt(int(np.prod(shape[1:])))
    elif leaf == "weight":
        v = 0.75 + 0.5 * u
    elif leaf == "bias":
        v = (u - 0.5) * 0.2
    elif leaf == "running_mean":
        v = (u - 0.5) * 0.4
    elif leaf == "running_var":
        v = 0.5 + u
    else:
        raise ValueError(f"no deterministic rule for {name}")
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def deterministic_input(shape, seed):
    u = uniform("input", int(np.prod(shape)), seed)
    return torch.from_numpy(((u - 0.5) * 2.0).astype(np.float32).reshape(shape))


def deterministic_labels(count, classes, seed):
    return [int(v) for v in np.floor(uniform("labels", count, seed) * classes)]


def load_deterministic(model, seed):
    entries = {name: deterministic_tensor(name, list(t.shape), seed) for name, t in model.state_dict().items()}
    model.load_state_dict(entries)
    return model


def entries_of(model):
    return [[name, list(t.shape)] for name, t in model.state_dict().items()]


# ---------------------------------------------------------------------------------------------------------
# Files.


def f32_bytes(array):
    return np.ascontiguousarray(np.asarray(array, dtype=np.float64).astype("<f4")).tobytes()


def write(relative, data):
    path = ROOT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


class Blob:
    """Float32 arrays concatenated into one file, located by `offset` (in elements) and `shape`."""

    def __init__(self):
        self.parts = []
        self.size = 0
        self.arrays = {}

    def add(self, key, tensor):
        array = tensor.detach().cpu().double().numpy() if torch.is_tensor(tensor) else np.asarray(tensor)
        self.arrays[key] = {"offset": self.size, "shape": list(array.shape)}
        self.parts.append(f32_bytes(array.reshape(-1)))
        self.size += array.size

    def save(self, relative):
        write(relative, b"".join(self.parts))
        return {"file": relative, "arrays": self.arrays}


ITEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def tensor_bytes(tensor):
    tensor = tensor.detach().contiguous()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().astype("<i2").tobytes()
    dtype = {torch.float32: "<f4", torch.float16: "<f2", torch.int64: "<i8"}[tensor.dtype]
    return tensor.numpy().astype(dtype).tobytes()


def safetensors_bytes(tensors, metadata=None):
    """The safetensors format by hand, laid out as src/io/safetensors.ts writes it (byte-identical)."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
    items = sorted(
        ((name, names[t.dtype], list(t.shape), tensor_bytes(t)) for name, t in tensors.items()),
        key=lambda item: (-ITEM_SIZE[item[1]], item[0]),
    )
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    padded = text + b" " * (-len(text) % 8)
    return struct.pack("<Q", len(padded)) + padded + b"".join(item[3] for item in items)


# ---------------------------------------------------------------------------------------------------------
# Fixtures.


def forward_fixtures():
    input_shape, input_seed = [2, 3, 64, 64], 2
    x = deterministic_input(input_shape, input_seed)
    input_file = write("forward/input_2x3x64x64.f32", f32_bytes(x.numpy()))
    out = []
    # The 1000-class models take another weight seed: with the same one their first 10 logits would repeat
    # the 10-class model's (each tensor's values depend only on its name, seed and element index).
    for arch, classes, weight_seed in [("resnet18", 10, 1), ("resnet34", 10, 1), ("resnet50", 10, 1),
                                       ("resnet18", 1000, 11), ("resnet50", 1000, 11),
                                       ("resnext50_32x4d", 10, 1), ("wide_resnet50_2", 10, 1)]:
        name = f"{arch}_c{classes}"
        model = load_deterministic(getattr(torchvision.models, arch)(num_classes=classes), weight_seed)
        with torch.no_grad():
            logits = model.double().eval()(x.double())
        out.append({
            "name": name,
            "arch": arch,
            "numClasses": classes,
            "weightSeed": weight_seed,
            "inputSeed": input_seed,
            "input": {"file": input_file, "shape": input_shape},
            "logits": {"file": write(f"forward/{name}_logits.f32", f32_bytes(logits.numpy())),
                       "shape": list(logits.shape)},
            "stateDict": entries_of(model),
        })
        print(name, "logits", logits[0, :4].tolist())
    return out


def sample_indices(count):
    if count <= 32:
        return list(range(count))
    return sorted({round(k * (count - 1) / 31) for k in range(32)})


def train_fixture(arch="resnet18", batch_seeds=(4, 5),
                  full=("conv1.weight", "fc.weight", "fc.bias", "layer4.1.bn2.weight"), running_stats=True,
                  build=None):
    """SGD steps of `arch` (torchvision's, or `build`'s), one per batch seed; `full` parameters are stored
    whole, the others sampled."""
    weight_seed, input_shape, classes = 3, [4, 3, 32, 32], 10
    lr, momentum, weight_decay = 0.1, 0.9, 5e-4
    model = build(classes) if build else getattr(torchvision.models, arch)(num_classes=classes)
    model = load_deterministic(model, weight_seed)
    entries = entries_of(model)
    model = model.double().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    params = dict(model.named_parameters())
    indices = {name: sample_indices(p.numel()) for name, p in params.items()}
    blob, steps = Blob(), []
    for step, seed in enumerate(batch_seeds):
        x = deterministic_input(input_shape, seed)
        labels = deterministic_labels(input_shape[0], classes, seed)
        optimizer.zero_grad()
        logits = model(x.double())
        loss = nn.functional.cross_entropy(logits, torch.tensor(labels))
        loss.backward()
        grads = {name: p.grad.detach().clone() for name, p in params.items()}
        optimizer.step()
        prefix = f"step{step}."
        blob.add(prefix + "input", x)
        blob.add(prefix + "logits", logits)
        for name, p in params.items():
            idx = torch.tensor(indices[name])
            blob.add(prefix + "gradSamples." + name, grads[name].reshape(-1)[idx])
            blob.add(prefix + "valueSamples." + name, p.detach().reshape(-1)[idx])
        for name in full:
            blob.add(prefix + "grad." + name, grads[name])
            blob.add(prefix + "value." + name, params[name])
        batches = {}
        for name, module in model.named_modules():
            if running_stats and isinstance(module, nn.BatchNorm2d):
                blob.add(prefix + "runningMean." + name, module.running_mean)
                blob.add(prefix + "runningVar." + name, module.running_var)
                batches[name] = int(module.num_batches_tracked)
        steps.append({"inputSeed": seed, "labels": labels, "loss": loss.item(), "numBatchesTracked": batches})
        print(arch, "train step", step, "loss", loss.item())
    return {
        "arch": arch,
        "numClasses": classes,
        "weightSeed": weight_seed,
        "inputShape": input_shape,
        "lr": lr,
        "momentum": momentum,
        "weightDecay": weight_decay,
        "notes": "torch.optim.SGD over model.parameters() (weight decay on every parameter, BN and biases "
                 "included): d = grad + weightDecay * p; buf = d on the first step, momentum * buf + d after; "
                 "p -= lr * buf. Cross-entropy is averaged over the batch. BatchNorm in train mode normalizes "
                 "with the biased batch variance and updates running_var with the unbiased one (momentum 0.1). "
                 "gradSamples are p.grad (before weight decay) at sampleIndices (flat C-order indices); "
                 "valueSamples are the parameters after the step. logits are the forward output before the "
                 "step. Computed in float64.",
        "fullTensors": full,
        "sampleIndices": indices,
        "stateDict": entries,
        "steps": steps,
        "data": blob.save(f"train/{arch}_sgd.f32"),
    }


class ResNet20(nn.Module):
    """He et al. 2016, section 4.2, with torchvision's BasicBlock and module names."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.inplanes = 16
        self.layer1 = self._make_layer(16, 1)
        self.layer2 = self._make_layer(32, 2)
        self.layer3 = self._make_layer(64, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        blocks = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        blocks += [BasicBlock(planes, planes) for _ in range(2)]
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet20_fixture():
    weight_seed, input_seed, input_shape = 6, 7, [4, 3, 32, 32]
    model = load_deterministic(ResNet20(), weight_seed)
    state = model.state_dict()
    torch.save(state, ROOT / "resnet20/resnet20.pth")
    metadata = {"arch": "resnet20", "weightSeed": str(weight_seed)}
    write("resnet20/resnet20.safetensors", safetensors_bytes(state, metadata))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    write("resnet20/resnet20_f16.safetensors", safetensors_bytes(half, metadata))
    x = deterministic_input(input_shape, input_seed)
    with torch.no_grad():
        logits = model.double().eval()(x.double())
    print("resnet20 logits", logits[0, :4].tolist())
    return {
        "arch": "resnet20",
        "numClasses": 10,
        "weightSeed": weight_seed,
        "inputSeed": input_seed,
        "pth": "resnet20/resnet20.pth",
        "safetensors": "resnet20/resnet20.safetensors",
        "safetensorsF16": "resnet20/resnet20_f16.safetensors",
        "metadata": metadata,
        "input": {"file": write("resnet20/input_4x3x32x32.f32", f32_bytes(x.numpy())), "shape": input_shape},
        "logits": {"file": write("resnet20/logits.f32", f32_bytes(logits.numpy())), "shape": list(logits.shape)},
        "stateDict": [[name, list(t.shape)] for name, t in state.items()],
    }


def special_floats():
    """Values that exercise F16/BF16 rounding: ties, overflow, subnormals, signed zero, infinities, NaN."""
    values = [0.0, -0.0, 1.0, -1.0, 1 / 3, math.pi, 65504.0, 65519.0, 65520.0, 1e-8, 6e-5, 5.96e-8, 3e-8,
              3.4e38, -3.4e38, 1e-40, float("inf"), float("-inf"), float("nan"),
              1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-8, 1 + 3 * 2**-8, -(1 + 3 * 2**-8)]
    values += list((uniform("special", 40, 9) - 0.5) * 200.0)
    return torch.tensor(values, dtype=torch.float32)


def encode_values(tensor):
    """JSON has no inf/NaN: those become strings; int64 values become decimal strings."""
    if tensor.dtype == torch.int64:
        return [str(int(v)) for v in tensor.reshape(-1)]
    out = []
    for v in tensor.float().reshape(-1).tolist():
        out.append(v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")))
    return out


def io_fixtures():
    source = special_floats()
    base = torch.arange(20, dtype=torch.float32) * 0.5
    grid = torch.arange(24, dtype=torch.float32).reshape(4, 6) - 7.25
    half_grid = grid.half()
    shared = torch.arange(12, dtype=torch.float32) / 4
    ints = torch.tensor([0, 1, -1, 2**40 + 3, -(2**62) - 5, 2**63 - 1, -(2**63)], dtype=torch.int64)
    tensors = collections.OrderedDict([
        ("f32", source),
        ("f16", source.half()),
        ("bf16", source.bfloat16()),
        ("i64", ints),
        ("slice", base[3:9]),
        ("transposed", grid.t()),
        ("strided_f16", half_grid[::2, 1::2]),
        ("bf16_view", grid.bfloat16()[1:, 2:5]),
        ("i64_transposed", torch.arange(6, dtype=torch.int64).reshape(2, 3).t()),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3)),
        ("shared_a", shared[2:8].view(2, 3)),
        ("shared_b", shared.view(3, 4)[:, 1]),
        ("param", nn.Parameter(torch.tensor([[1.5, -2.0]]))),
    ])
    torch.save(tensors, ROOT / "io/dtypes.pth")
    expected = {name: {"shape": list(t.shape),
                       "dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                                 torch.int64: "I64"}[t.dtype],
                       "values": encode_values(t.detach())}
                for name, t in tensors.items()}
    st = collections.OrderedDict((k, tensors[k]) for k in ["f32", "f16", "bf16", "i64", "scalar", "empty"])
    write("io/dtypes.safetensors", safetensors_bytes(st, {"format": "pt", "note": "special values"}))
    write("io/dtypes.json", (readable_json(expected) + "\n").encode("utf-8"))
    # The legacy format keys storages by memory address, so this one file differs from run to run.
    torch.save({"w": torch.ones(2)}, ROOT / "io/legacy.pth", _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "state_dict": {"fc.weight": torch.ones(2, 2), "fc.bias": torch.zeros(2)}},
               ROOT / "io/wrapped.pth")
    torch.save(nn.Linear(2, 2), ROOT / "io/module.pth")
    return {
        "dtypesPth": "io/dtypes.pth",
        "dtypesSafetensors": "io/dtypes.safetensors",
        "dtypesExpected": "io/dtypes.json",
        "legacyPth": "io/legacy.pth",
        "wrappedPth": "io/wrapped.pth",
        "modulePth": "io/module.pth",
    }


def generator_samples():
    """Values of the generator at a few indices, to check tests/_weights.ts against this script."""
    cases = [("conv1.weight", [16, 3, 3, 3], 6), ("layer1.0.bn1.weight", [16], 6), ("fc.bias", [10], 6),
             ("bn1.running_mean", [16], 6), ("bn1.running_var", [16], 6), ("bn1.num_batches_tracked", [], 6),
             ("fc.weight", [1000, 2048], 1)]
    out = []
    for name, shape, seed in cases:
        t = deterministic_tensor(name, shape, seed).reshape(-1)
        idx = sorted({i for i in (0, 1, 2, t.numel() // 2, t.numel() - 1) if i < t.numel()})
        out.append({"name": name, "shape": shape, "seed": seed, "indices": idx, "values": encode_values(t[idx])})
    x = deterministic_input([2, 3, 4, 4], 2).reshape(-1)
    out.append({"input": [2, 3, 4, 4], "seed": 2, "indices": [0, 1, 95], "values": encode_values(x[[0, 1, 95]])})
    out.append({"labels": 16, "classes": 10, "seed": 4, "values": deterministic_labels(16, 10, 4)})
    return out


def readable_json(value):
    """Indented JSON with flat lists (shapes, indices, samples) and [name, shape] pairs kept on one line."""
    text = json.dumps(value, indent=1)
    join = lambda m: "[" + re.sub(r",\s+", ", ", m.group(1).strip()) + "]"  # noqa: E731
    text = re.sub(r"\[([^\[\]{}]*)\]", join, text)
    return re.sub(r"\[([^\[\]{}]*\[[^\[\]{}\n]*\][^\[\]{}]*)\]", join, text)


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    for folder in ["forward", "train", "resnet20", "io"]:
        (ROOT / folder).mkdir(parents=True, exist_ok=True)
    manifest = {
        "about": "Written by tools/make_fixtures.py with torch " + torch.__version__ + " and torchvision " +
                 torchvision.__version__ + ". Weights and inputs come from tests/_weights.ts's generator; "
                 "float arrays are little-endian float32; shapes in PyTorch's order.",
        "generator": generator_samples(),
        "forward": forward_fixtures(),
        "train": train_fixture(),
        # One step of a small ResNeXt (resnext50_32x4d's blocks, [2, 1, 1, 1] of them): the whole of
        # resnext50_32x4d is too ill-conditioned at this size and these weights (PyTorch's float32 gradients
        # differ from its float64 ones by up to 38%); this one's by 1.2e-4. No BatchNorm statistics, to keep
        # the file small.
        "trainResnext": train_fixture(
            "resnext_32x4d", batch_seeds=[4], full=["layer1.0.conv2.weight", "fc.bias"], running_stats=False,
            build=lambda classes: torchvision.models.resnet.ResNet(
                torchvision.models.resnet.Bottleneck, [2, 1, 1, 1], num_classes=classes, groups=32,
                width_per_group=4)),
        "resnet20": resnet20_fixture(),
        "io": io_fixtures(),
    }
    write("manifest.json", (readable_json(manifest) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
