#!/usr/bin/env python3
"""Writes a learnable data set of procedural shapes in the official CIFAR-10 binary layout.

    python3 tools/make_shapes_dataset.py OUT.tar.gz [--train 5000] [--test 1000] [--seed 0]

The archive holds cifar-10-batches-bin/data_batch_1..5.bin, test_batch.bin and batches.meta.txt, as the
official release does, so `cli.ts train --data OUT.tar.gz` and `tools/torch_twin.py --data OUT.tar.gz`
read the same bytes. Each record is a label byte and a 32x32 RGB image (R, G and B planes, row-major).

The ten classes differ in shape only: every image draws its foreground and background colours, the
shape's size, position, orientation and line width at random, and adds noise, so colour tells nothing and a
network must learn shape (and flips and small shifts keep the class, as the augmentation assumes).
Needs only Python's standard library.
"""

import argparse
import io
import math
import random
import tarfile

CLASSES = ["disc", "ring", "square", "frame", "triangle", "cross", "plus", "bar", "two-bars", "star"]
SIZE = 32


def inside(kind, x, y, r, width):
    """Whether the point (x, y), in the shape's own frame (centred, unrotated), is in a shape of radius r."""
    d = math.hypot(x, y)
    ax, ay = abs(x), abs(y)
    if kind == "disc":
        return d <= r
    if kind == "ring":
        return r - width <= d <= r
    if kind == "square":
        return max(ax, ay) <= r * 0.8
    if kind == "frame":
        return r * 0.8 - width <= max(ax, ay) <= r * 0.8
    if kind == "triangle":
        # An equilateral triangle pointing up, circumradius r.
        return y >= -r / 2 and ay <= r and (math.sqrt(3) * ax + y) <= r
    if kind == "cross":
        return (abs(x - y) <= width or abs(x + y) <= width) and max(ax, ay) <= r * 0.8
    if kind == "plus":
        return (ax <= width or ay <= width) and max(ax, ay) <= r
    if kind == "bar":
        return ax <= width and ay <= r
    if kind == "two-bars":
        return abs(ax - r * 0.45) <= width * 0.8 and ay <= r
    if kind == "star":
        angle = math.atan2(y, x)
        edge = r * (0.55 + 0.45 * abs(math.cos(2.5 * angle)))
        return d <= edge
    raise ValueError(kind)


def image(kind, rng):
    """One CHW image of `kind` as 3 * 32 * 32 bytes."""
    # A light shape on a dark ground, each of a random tint: the polarity is fixed, the colour says nothing.
    fg = [rng.randrange(150, 256) for _ in range(3)]
    bg = [rng.randrange(0, 100) for _ in range(3)]
    r = rng.uniform(8, 14)
    width = rng.uniform(1.5, 3.0)
    cx = rng.uniform(r * 0.7, SIZE - r * 0.7)
    cy = rng.uniform(r * 0.7, SIZE - r * 0.7)
    theta = rng.uniform(0, 2 * math.pi)
    cos, sin = math.cos(theta), math.sin(theta)
    planes = [bytearray(SIZE * SIZE) for _ in range(3)]
    for py in range(SIZE):
        for px in range(SIZE):
            dx, dy = px + 0.5 - cx, py + 0.5 - cy
            x, y = cos * dx + sin * dy, -sin * dx + cos * dy
            colour = fg if inside(kind, x, y, r, width) else bg
            for c in range(3):
                value = colour[c] + rng.gauss(0, 24)
                planes[c][py * SIZE + px] = max(0, min(255, int(round(value))))
    return b"".join(planes)


def records(count, rng):
    """`count` records with balanced classes in random order."""
    labels = [i % len(CLASSES) for i in range(count)]
    rng.shuffle(labels)
    return b"".join(bytes([label]) + image(CLASSES[label], rng) for label in labels)


def add(tar, name, data):
    info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.train % 5:
        parser.error("--train must be a multiple of 5 (five data_batch files)")
    rng = random.Random(args.seed)
    with tarfile.open(args.out, "w:gz") as tar:
        per_file = args.train // 5
        for i in range(5):
            add(tar, f"data_batch_{i + 1}.bin", records(per_file, rng))
        add(tar, "test_batch.bin", records(args.test, rng))
        add(tar, "batches.meta.txt", ("\n".join(CLASSES) + "\n").encode())


if __name__ == "__main__":
    main()
