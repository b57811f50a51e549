#!/usr/bin/env python3
"""Writes tests/fixtures/transforms/: tiny PNGs and what torchvision's transforms make of them (committed; not
run in CI), for tests/data/transforms_test.ts.

    /usr/bin/python3 tools/make_transform_fixtures.py

The images are PNGs, so that both sides start from the same pixels (JPEG decoders differ). For each, the
evaluation transform `Resize(round(S * 256 / 224))` + `CenterCrop(S)` + `ToTensor` + `Normalize` at a few S,
and `F.resized_crop` (+ `F.hflip`) + `ToTensor` + `Normalize` at hand-picked windows, are stored as
little-endian float32 CHW tensors. `RandomResizedCrop.get_params` is recorded where all ten attempts must
fail, so that its fallback (the only part not drawn from torch's generator) is compared exactly.
manifest.json describes every file.
"""

import json
import pathlib

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "transforms"
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def structured(width, height, seed):
    """Gradients, a checkerboard, diagonal stripes and a disc: sharp edges and smooth ramps for the filter."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    red = (x * 255 // max(width - 1, 1) + 40 * ((x // 3 + y // 3) % 2)) % 256
    green = np.where((x + 2 * y) % 7 < 3, 230, 20) + rng.integers(0, 20, (height, width))
    disc = (x - width / 2.5) ** 2 + (y - height / 1.7) ** 2 < (min(width, height) / 3) ** 2
    blue = np.where(disc, 250, y * 200 // max(height - 1, 1))
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


IMAGES = {"wide.png": (37, 23, 1), "tall.png": (50, 64, 2), "square.png": (19, 19, 3)}
# Evaluation crops: 12 on tall.png crops a margin of 5 (Python's round(2.5) = 2), 24 on square.png enlarges.
EVALS = [("wide.png", 16), ("tall.png", 16), ("square.png", 16), ("tall.png", 12), ("square.png", 24)]
# (image, top, left, height, width, flip, size): whole images, enlarged small windows, windows at the
# border, and a window already of the output's size (PIL copies it).
CROPS = [
    ("wide.png", 0, 0, 23, 37, False, 12),
    ("wide.png", 3, 5, 10, 7, True, 12),
    ("wide.png", 10, 20, 13, 17, False, 12),
    ("tall.png", 0, 0, 64, 50, True, 12),
    ("tall.png", 7, 11, 40, 25, False, 12),
    ("tall.png", 60, 45, 4, 5, True, 12),
    ("square.png", 2, 3, 12, 12, False, 12),
    ("square.png", 0, 0, 19, 19, True, 16),
]
# (width, height, scale, ratio): images where no attempt can fit, so get_params always falls back.
FALLBACKS = [
    (200, 10, (0.08, 1.0), (3 / 4, 4 / 3)),
    (10, 200, (0.08, 1.0), (3 / 4, 4 / 3)),
    (20, 20, (2.0, 3.0), (3 / 4, 4 / 3)),
    (30, 9, (0.9, 1.0), (1.0, 2.0)),
    (30, 3, (0.5, 1.0), (0.5, 1.5)),
]


def tensor_file(name, tensor):
    data = tensor.numpy().astype("<f4").tobytes()
    (OUT / name).write_bytes(data)
    return name


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    normalise = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    images = {}
    for name, (width, height, seed) in IMAGES.items():
        Image.fromarray(structured(width, height, seed), "RGB").save(OUT / name, optimize=False)
        images[name] = Image.open(OUT / name).convert("RGB")
    evals = []
    for name, size in EVALS:
        resize = int(round(size * 256 / 224))
        transform = T.Compose([T.Resize(resize), T.CenterCrop(size), normalise])
        stem = name.removesuffix(".png")
        file = tensor_file(f"{stem}_eval{size}.f32", transform(images[name]))
        evals.append({"image": name, "size": size, "resize": resize, "file": file})
    crops = []
    for i, (name, top, left, height, width, flip, size) in enumerate(CROPS):
        out = F.resized_crop(images[name], top, left, height, width, [size, size], T.InterpolationMode.BILINEAR)
        if flip:
            out = F.hflip(out)
        file = tensor_file(f"crop{i}.f32", normalise(out))
        crops.append({"image": name, "top": top, "left": left, "height": height, "width": width, "flip": flip,
                      "size": size, "file": file})
    fallbacks = []
    for width, height, scale, ratio in FALLBACKS:
        image = torch.empty(3, height, width)
        results = {T.RandomResizedCrop.get_params(image, list(scale), list(ratio)) for _ in range(20)}
        assert len(results) == 1, f"{width}x{height} does not always fall back: {results}"
        top, left, h, w = results.pop()
        fallbacks.append({"image": {"width": width, "height": height}, "scale": scale, "ratio": ratio,
                          "expected": {"top": top, "left": left, "height": h, "width": w}})
    manifest = {
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "mean": MEAN,
        "std": STD,
        "images": [{"file": name, "width": w, "height": h} for name, (w, h, _) in IMAGES.items()],
        "eval": evals,
        "resizedCrops": crops,
        "fallbacks": fallbacks,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
