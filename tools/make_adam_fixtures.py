#!/usr/bin/env python3
"""Writes tests/fixtures/adam/: three torch.optim.Adam and AdamW steps of ResNet-20.

The fixtures are committed; this script is not run in CI.

Run with Debian's PyTorch (`apt-get install python3-torch python3-torchvision`):

    /usr/bin/python3 tools/make_adam_fixtures.py

Weights, inputs and labels come from the deterministic generator that tools/make_fixtures.py shares with
tests/_weights.ts. The model runs in float64 (torch.optim's single-tensor path, as with foreach=False), and
the parameters after the last step are stored as float32: sampled for every parameter, whole for a few.
tests/compile/adam_parity_test.ts reads them.
"""

import json
import pathlib
import sys

import torch
import torch.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_fixtures import (  # noqa: E402
    ROOT, Blob, ResNet20, deterministic_input, deterministic_labels, entries_of, load_deterministic,
    readable_json, sample_indices,
)

WEIGHT_SEED, BATCH_SEEDS, INPUT_SHAPE, CLASSES = 8, (9, 10, 11), [2, 3, 32, 32], 10
FULL = ("conv1.weight", "layer3.2.bn2.weight", "fc.weight", "fc.bias")
# Adam with an L2 penalty; AdamW with decoupled decay and AMSGrad. eps 1e-3 keeps the update a smooth
# function of the gradient where a gradient is near zero (with torch's 1e-8 the first step is lr * sign(g),
# which float32 gradients flip wherever float64's are tiny). lr 1e-3 moves the weights by several times the
# tolerance; at 1e-2 ResNet-20 at batch 2 is so far from its start after one step that float32 gradients
# of the second step differ from float64's by percents (the backward pass, not the optimizer).
RUNS = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.99), "eps": 1e-3, "weight_decay": 1e-3}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}),
}


def run(name, optimizer_class, options):
    model = load_deterministic(ResNet20(num_classes=CLASSES), WEIGHT_SEED)
    entries = entries_of(model)
    model = model.double().train()
    optimizer = optimizer_class(model.parameters(), foreach=False, **options)
    params = dict(model.named_parameters())
    indices = {key: sample_indices(p.numel()) for key, p in params.items()}
    blob, steps = Blob(), []
    for seed in BATCH_SEEDS:
        x = deterministic_input(INPUT_SHAPE, seed)
        labels = deterministic_labels(INPUT_SHAPE[0], CLASSES, seed)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x.double()), torch.tensor(labels))
        loss.backward()
        optimizer.step()
        steps.append({"inputSeed": seed, "labels": labels, "loss": loss.item()})
        print(name, "step", len(steps), "loss", loss.item())
    for key, p in params.items():
        blob.add("valueSamples." + key, p.detach().reshape(-1)[torch.tensor(indices[key])])
    for key in FULL:
        blob.add("value." + key, params[key])
    state = optimizer.state[params["fc.weight"]]
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        if key in state:
            blob.add("fc.weight." + key, state[key])
    return {
        "optimizer": name,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
        "step": int(state["step"]),
        "steps": steps,
        "sampleIndices": indices,
        "stateDict": entries,
        "data": blob.save(f"adam/resnet20_{name}.f32"),
    }


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    manifest = {
        "about": "Written by tools/make_adam_fixtures.py with torch " + torch.__version__ + ": ResNet-20 "
                 f"(weight seed {WEIGHT_SEED}), batch {INPUT_SHAPE[0]}, one deterministic batch per step, "
                 "trained in float64; valueSamples are the parameters after the last step at sampleIndices "
                 "(flat C-order), value.* whole parameters, fc.weight.* the optimizer state of fc.weight.",
        "weightSeed": WEIGHT_SEED,
        "inputShape": INPUT_SHAPE,
        "numClasses": CLASSES,
        "runs": [run(name, cls, options) for name, (cls, options) in RUNS.items()],
    }
    (ROOT / "adam").mkdir(parents=True, exist_ok=True)
    (ROOT / "adam" / "adam.json").write_text(readable_json(manifest) + "\n")


if __name__ == "__main__":
    main()
