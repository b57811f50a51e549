#!/usr/bin/env python3
"""Writes tests/fixtures/ema/: an exponential moving average of ResNet-20's weights over three Adam steps.

The fixtures are committed; this script is not run in CI.

Run with Debian's PyTorch (`apt-get install python3-torch python3-torchvision`):

    /usr/bin/python3 tools/make_ema_fixtures.py

The training is tools/make_adam_fixtures.py's Adam run (float64); after each `optimizer.step()` an
`AveragedModel(model, avg_fn, use_buffers=True)` is updated, with `avg_fn` the lerp of torch 2's
`get_ema_multi_avg_fn(decay)` (Debian's torch 1.13 predates it; integer buffers are copied, as that function
cannot lerp them). The averaged parameters and BatchNorm statistics after the last update are stored as
float32, sampled for every tensor and whole for a few. tests/compile/ema_parity_test.ts reads them.
"""

import pathlib
import sys

import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_fixtures import (  # noqa: E402
    ROOT, Blob, ResNet20, deterministic_input, deterministic_labels, entries_of, load_deterministic,
    readable_json, sample_indices,
)
from make_adam_fixtures import BATCH_SEEDS, CLASSES, INPUT_SHAPE, RUNS, WEIGHT_SEED  # noqa: E402

# Small enough that every update moves the average by a large share of the step.
DECAY = 0.5
FULL = ("conv1.weight", "fc.weight", "bn1.running_mean", "layer3.2.bn2.running_var")


def ema_avg(averaged, current, _count):
    if not torch.is_floating_point(averaged):
        return current
    return torch.lerp(averaged, current, 1 - DECAY)


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    model = load_deterministic(ResNet20(num_classes=CLASSES), WEIGHT_SEED)
    entries = entries_of(model)
    model = model.double().train()
    optimizer_class, options = RUNS["adam"]
    optimizer = optimizer_class(model.parameters(), foreach=False, **options)
    ema = AveragedModel(model, avg_fn=ema_avg, use_buffers=True)
    steps = []
    for seed in BATCH_SEEDS:
        x = deterministic_input(INPUT_SHAPE, seed)
        labels = deterministic_labels(INPUT_SHAPE[0], CLASSES, seed)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x.double()), torch.tensor(labels))
        loss.backward()
        optimizer.step()
        ema.update_parameters(model)
        steps.append({"inputSeed": seed, "labels": labels, "loss": loss.item()})
    averaged = {k: v for k, v in ema.module.state_dict().items() if torch.is_floating_point(v)}
    indices = {key: sample_indices(v.numel()) for key, v in averaged.items()}
    blob = Blob()
    for key, value in averaged.items():
        blob.add("averagedSamples." + key, value.reshape(-1)[torch.tensor(indices[key])])
    for key in FULL:
        blob.add("averaged." + key, averaged[key])
        blob.add("current." + key, model.state_dict()[key])
    manifest = {
        "about": "Written by tools/make_ema_fixtures.py with torch " + torch.__version__ + ": ResNet-20 "
                 f"(weight seed {WEIGHT_SEED}), three steps of tools/make_adam_fixtures.py's Adam run, an "
                 f"AveragedModel with decay {DECAY} and use_buffers=True updated after each; averagedSamples "
                 "are its floating-point state after the last update at sampleIndices (flat C-order), "
                 "averaged.* whole tensors, current.* the trained model's.",
        "weightSeed": WEIGHT_SEED,
        "inputShape": INPUT_SHAPE,
        "numClasses": CLASSES,
        "optimizer": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
        "decay": DECAY,
        "updates": int(ema.n_averaged),
        "steps": steps,
        "sampleIndices": indices,
        "stateDict": entries,
        "data": blob.save("ema/resnet20_adam_ema.f32"),
    }
    (ROOT / "ema").mkdir(parents=True, exist_ok=True)
    (ROOT / "ema" / "ema.json").write_text(readable_json(manifest) + "\n")


if __name__ == "__main__":
    main()
