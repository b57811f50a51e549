#!/usr/bin/env python3
"""The PyTorch twin of `deno run -A cli.ts train`: the same flags, the same data files, the same recipe.

    /usr/bin/python3 tools/torch_twin.py --data shapes.tar.gz --model resnet20 --epochs 4 --batch-size 128 \
        --lr 0.1 --weight-decay 5e-4 --schedule cosine --warmup 1 --seed 0 --json

Run with Debian's PyTorch (`apt-get install python3-torch python3-torchvision`); not run in CI. What it
does, as `cli.ts train` does:
- reads a CIFAR-10/100 binary release (the .tar.gz, a .tar or the extracted folder), `--limit` keeping the
  first N records of each split;
- the model: He et al.'s resnet20/32/44/56/110 with 1x1 convolution + BatchNorm shortcuts where the shape
  changes (option B, torchvision's names), or torchvision's resnet18..152 with `--stem cifar` (3x3 stride-1
  conv1, no max-pool) or `imagenet`; Kaiming normal (fan-out) convolutions, BatchNorm 1 and 0, the default
  fc initialisation, as torchvision's ResNet.__init__, drawn after torch.manual_seed(seed) in cli.ts's
  order: the initial weights are cli.ts's own (its generator is torch's);
- RandomCrop(32, padding=4) (zero bytes) and RandomHorizontalFlip on the bytes, then the data set's
  mean/std; the short last training batch dropped, the order shuffled each epoch;
- SGD with momentum, weight decay on every parameter (`--nesterov` too); the learning rate per optimizer
  step: a linear warm-up from lr/10 over `--warmup` epochs, then multistep (x0.1 at 50% and 75% of the
  remaining epochs), cosine to 0, onecycle (OneCycleLR's defaults) or constant;
- cross-entropy with `--label-smoothing`; evaluation of every test image once in eval mode.
It prints one line per epoch, and with `--json` a last line {"testAccuracy", "trainLoss", ...}.
"""

import argparse
import json
import math
import pathlib
import tarfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

LAYOUTS = {
    "cifar10": {
        "folder": "cifar-10-batches-bin",
        "train": [f"data_batch_{i}.bin" for i in range(1, 6)],
        "test": ["test_batch.bin"],
        "label_bytes": 1,
        "classes": 10,
        "mean": (0.4914, 0.4822, 0.4465),
        "std": (0.2470, 0.2435, 0.2616),
    },
    "cifar100": {
        "folder": "cifar-100-binary",
        "train": ["train.bin"],
        "test": ["test.bin"],
        "label_bytes": 2,
        "classes": 100,
        "mean": (0.5071, 0.4865, 0.4409),
        "std": (0.2673, 0.2564, 0.2762),
    },
}
CIFAR_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
IMAGE_BYTES = 3 * 32 * 32


def read_files(path, layout):
    """The named files of a release, from an archive or a folder (holding the release's folder or not)."""
    path = pathlib.Path(path)
    names = layout["train"] + layout["test"]
    if path.is_dir():
        base = path / layout["folder"] if (path / layout["folder"]).is_dir() else path
        return {name: (base / name).read_bytes() for name in names}
    files = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            name = member.name.split("/")[-1]
            if name in names:
                files[name] = tar.extractfile(member).read()
    missing = [n for n in names if n not in files]
    if missing:
        raise SystemExit(f"{path}: missing {', '.join(missing)}")
    return files


def split(files, names, layout, limit):
    """Images [N, 3, 32, 32] (uint8) and labels [N] of one split (the fine label of CIFAR-100)."""
    record = layout["label_bytes"] + IMAGE_BYTES
    data = b"".join(files[n] for n in names)
    rows = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(-1, record)
    if limit:
        rows = rows[:limit]
    labels = rows[:, layout["label_bytes"] - 1].long()
    return rows[:, layout["label_bytes"]:].reshape(-1, 3, 32, 32).clone(), labels


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet with option-B shortcuts, named as torchvision's ResNet."""

    def __init__(self, blocks, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        layers, inplanes = [], 16
        for i, planes in enumerate([16, 32, 64]):
            stride = 1 if i == 0 else 2
            # As torchvision's _make_layer: the shortcut is made (and draws its initial weights) first.
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            stage = [BasicBlock(inplanes, planes, stride, downsample)]
            stage += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
            inplanes = planes
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class _CifarStemConv2d(nn.Conv2d):
    """nn.Conv2d with torchvision's 7x7 stride-2 stem made the CIFAR stem's 3x3 stride-1 one."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, **kwargs):
        if kernel_size == 7:
            kernel_size, stride, padding = 3, 1, 1
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, **kwargs)


def build_model(name, stem, num_classes):
    """The model as cli.ts builds it, drawing its initial weights in the same order from torch's generator
    (cli.ts's `Generator` is torch's CPU generator: after torch.manual_seed(seed) both start equal)."""
    if name in CIFAR_DEPTHS:
        return CifarResNet(CIFAR_DEPTHS[name], num_classes)
    if stem == "imagenet":
        return getattr(torchvision.models, name)(num_classes=num_classes)
    # The CIFAR stem is built in place of the 7x7 one, as cli.ts does, so that the draws keep their order.
    conv2d = nn.Conv2d
    nn.Conv2d = _CifarStemConv2d
    try:
        model = getattr(torchvision.models, name)(num_classes=num_classes)
    finally:
        nn.Conv2d = conv2d
    model.maxpool = nn.Identity()
    return model


def learning_rate(args, steps_per_epoch):
    """The lr at each optimizer step, as cli.ts's learningRate (src/train/run_config.ts)."""
    total = args.epochs * steps_per_epoch
    warmup = args.warmup * steps_per_epoch
    steps = total - warmup
    milestones = [round(f * (args.epochs - args.warmup)) * steps_per_epoch for f in (0.5, 0.75)]

    def one_cycle(step):
        initial, peak = args.lr / 25, args.lr
        minimum = initial / 1e4
        up_end = 0.3 * steps - 1
        anneal = lambda a, b, pct: b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
        if step <= up_end:
            return anneal(initial, peak, step / up_end)
        return anneal(peak, minimum, (step - up_end) / (steps - 1 - up_end))

    def main(step):
        if args.schedule == "multistep":
            return args.lr * 0.1 ** sum(step >= m for m in milestones)
        if args.schedule == "cosine":
            return args.lr * (1 + math.cos(math.pi * step / steps)) / 2
        if args.schedule == "onecycle":
            return one_cycle(step)
        return args.lr

    def at(step):
        if step < warmup:
            return args.lr * (0.1 + 0.9 * step / warmup)
        return main(step - warmup)

    return at


def augment(images, generator):
    """RandomCrop(32, padding=4) with zero bytes, then RandomHorizontalFlip, on a uint8 batch."""
    n = images.shape[0]
    padded = F.pad(images, (4, 4, 4, 4))
    tops = torch.randint(0, 9, (n,), generator=generator)
    lefts = torch.randint(0, 9, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(images)
    for i in range(n):
        crop = padded[i, :, tops[i]:tops[i] + 32, lefts[i]:lefts[i] + 32]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


M32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9


def mix32(x):
    """lowbias32, as src/data/random.ts."""
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def seed32(seed):
    low, high = seed % 2**32, seed // 2**32
    return (low ^ (0 if high == 0 else mix32(high + GOLDEN))) & M32


def our_order(count, seed, epoch):
    """epochOrder of src/data/random.ts: the shuffle cli.ts train uses."""
    order = list(range(count))
    state = mix32(mix32(seed32(seed) ^ 0x5BD1E995) ^ epoch)
    for i in range(count - 1, 0, -1):
        state = (state + GOLDEN) & M32
        j = int(mix32(state) / 2**32 * (i + 1))
        order[i], order[j] = order[j], order[i]
    return torch.tensor(order)


def our_augment(images, seed, epoch, first):
    """The crop and flip of shaders/augment.wgsl, drawn as src/data/random.ts draws them."""
    h = mix32(seed32(seed) ^ 0x27D4EB2F)
    base = mix32(h ^ epoch)
    padded = F.pad(images, (4, 4, 4, 4))
    out = torch.empty_like(images)
    for i in range(images.shape[0]):
        sample = mix32(base + first + i)
        draw = lambda k: mix32(sample + (k + 1) * GOLDEN)
        top, left, flip = draw(0) % 9, draw(1) % 9, draw(2) & 1
        # The kernel flips the output columns before the crop offset applies: crop, then mirror.
        crop = padded[i, :, top:top + 32, left:left + 32]
        out[i] = crop.flip(-1) if flip else crop
    return out


def normalise(images, mean, std):
    x = images.to(mean.dtype) / 255
    return (x - mean) / std


def load_safetensors(path):
    """The tensors of a safetensors file (F32 and I64), by name."""
    data = pathlib.Path(path).read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    body = bytearray(data[8 + length:])
    return {
        name: torch.frombuffer(body[t["data_offsets"][0]:t["data_offsets"][1]], dtype=dtypes[t["dtype"]])
        .view(t["shape"]).clone()
        for name, t in header.items()
    }


def save_safetensors(path, state):
    """`state` (float tensors as F32, integer ones as I64) as a safetensors file."""
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        t = t.detach().to(torch.float32 if t.is_floating_point() else torch.int64).contiguous()
        blob = t.numpy().tobytes()
        dtype = "F32" if t.dtype == torch.float32 else "I64"
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    pathlib.Path(path).write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def evaluate(model, images, labels, mean, std, batch):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            logits = model(normalise(images[i:i + batch], mean, std))
            loss += F.cross_entropy(logits, labels[i:i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(labels), loss / len(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--dataset", default="cifar10", choices=list(LAYOUTS))
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--model", default="resnet20")
    p.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"])
    p.add_argument("--epochs", type=int, default=164)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--schedule", default="multistep", choices=["multistep", "cosine", "onecycle", "constant"])
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--stream", default="torch", choices=["torch", "ours"],
        help="the shuffle and crop/flip draws: torch.Generator's, or cli.ts train's (src/data/random.ts)",
    )
    p.add_argument("--init", help="initial weights from a safetensors file (e.g. our model at step 0)")
    p.add_argument("--float64", action="store_true", help="train and evaluate in float64 (a reference trajectory)")
    p.add_argument("--save", help="write the final weights and statistics to this safetensors file")
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    layout = LAYOUTS[args.dataset]
    files = read_files(args.data, layout)
    train_x, train_y = split(files, layout["train"], layout, args.limit)
    test_x, test_y = split(files, layout["test"], layout, args.limit)
    dtype = torch.float64 if args.float64 else torch.float32
    mean = torch.tensor(layout["mean"], dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(layout["std"], dtype=dtype).view(1, 3, 1, 1)

    model = build_model(args.model, args.stem, layout["classes"])
    if args.init:
        model.load_state_dict(load_safetensors(args.init), strict=False)
    model.to(dtype)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        nesterov=args.nesterov,
    )
    steps_per_epoch = len(train_y) // args.batch_size
    lr_at = learning_rate(args, steps_per_epoch)
    step = 0
    history = []
    for epoch in range(args.epochs):
        model.train()
        started = time.time()
        if args.stream == "ours":
            order = our_order(len(train_y), args.seed, epoch)
        else:
            order = torch.randperm(len(train_y), generator=generator)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            index = order[b * args.batch_size:(b + 1) * args.batch_size]
            if args.stream == "ours":
                batch = our_augment(train_x[index], args.seed, epoch, b * args.batch_size)
            else:
                batch = augment(train_x[index], generator)
            x = normalise(batch, mean, std)
            y = train_y[index]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        test_accuracy, test_loss = evaluate(model, test_x, test_y, mean, std, 500)
        entry = {
            "epoch": epoch + 1,
            "trainLoss": loss_sum / seen,
            "trainAccuracy": correct / seen,
            "testLoss": test_loss,
            "testAccuracy": test_accuracy,
            "seconds": time.time() - started,
        }
        history.append(entry)
        print(
            f"epoch {epoch + 1}/{args.epochs}: train loss {entry['trainLoss']:.4f}, "
            f"acc {100 * entry['trainAccuracy']:.2f}% | test loss {test_loss:.4f}, "
            f"acc {100 * test_accuracy:.2f}% | {entry['seconds']:.1f} s",
            flush=True,
        )
    if args.save:
        save_safetensors(args.save, model.state_dict())
    if args.json:
        print(json.dumps({**history[-1], "seed": args.seed, "history": history}))


if __name__ == "__main__":
    main()
