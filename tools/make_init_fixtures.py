#!/usr/bin/env python3
"""Writes tests/fixtures/init/torch_init.json: what PyTorch's CPU generator gives after torch.manual_seed.

The fixture is committed; this script is not run in CI. Run with Debian's PyTorch
(`apt-get install python3-torch python3-torchvision`):

    /usr/bin/python3 tools/make_init_fixtures.py

It records torch.rand, Tensor.normal_ (below 16 values, a multiple of 16 and a length 16 does not divide)
and Tensor.uniform_ draws, and the initial weights of resnet20 (tools/torch_twin.py's, as cli.ts builds it)
and torchvision's resnet18 (both stems) after torch.manual_seed(seed): for every convolution and fc tensor
its first values, sum and sum of squares. tests/nn/torch_init_test.ts reads it.
"""

import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_twin import build_model  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "init" / "torch_init.json"


def values(t):
    return [float(x) for x in t.flatten().tolist()]


def streams():
    torch.manual_seed(0)
    rand = values(torch.rand(5))
    torch.manual_seed(0)
    normal_small = values(torch.empty(5).normal_()) + values(torch.empty(3).normal_())
    torch.manual_seed(7)
    normal_long = [values(torch.empty(n).normal_(0.5, 2.0)) for n in (32, 27, 100)]
    torch.manual_seed(3)
    uniform = values(torch.empty(20).uniform_(-0.3, 0.3))
    return {
        "rand": {"seed": 0, "values": rand},
        "normalSmall": {"seed": 0, "lengths": [5, 3], "values": normal_small},
        "normalLong": {"seed": 7, "mean": 0.5, "std": 2.0, "lengths": [32, 27, 100], "values": normal_long},
        "uniform": {"seed": 3, "bound": 0.3, "values": uniform},
    }


def model_entry(name, stem, seed):
    torch.manual_seed(seed)
    model = build_model(name, stem, 10)
    tensors = {}
    for key, t in model.state_dict().items():
        if t.dtype != torch.float32 or not (key.endswith("conv1.weight") or "conv" in key or "downsample.0" in key
                                             or key.startswith("fc.")):
            continue
        d = t.double()
        tensors[key] = {"first": values(t.flatten()[:4]), "sum": float(d.sum()), "sumSquares": float((d * d).sum())}
    return {"model": name, "stem": stem, "seed": seed, "numClasses": 10, "tensors": tensors}


def main():
    fixture = {
        **streams(),
        "models": [model_entry("resnet20", "cifar", 0), model_entry("resnet18", "imagenet", 1),
                   model_entry("resnet18", "cifar", 2)],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
