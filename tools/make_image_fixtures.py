#!/usr/bin/env python3
"""Writes tests/fixtures/images/: tiny PNGs, JPEGs and WebPs in every mode decodeImage converts, beside what PIL
makes of them (committed; not run in CI).

    /usr/bin/python3 tools/make_image_fixtures.py

expected.json holds, for each file (and for plain.jpg given orientations 2, 4, 5 and 7), PIL's
`Image.open(f).convert("RGB")` pixels (for the JPEGs after `ImageOps.exif_transpose`, which applies the
EXIF orientation) as base64 of the interleaved RGB bytes, and the mode PIL opened the file in. PIL writes
the 8-bit modes it can write; the 16-bit colour, 1-bit, colour-key (tRNS) and short-palette files are
written chunk by chunk below, since PIL cannot write them but does read them.
"""

import base64
import io
import json
import pathlib
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "images"
W, H = 5, 4


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width, depth, color_type, rows, extra=b""):
    """A PNG whose rows (bytes, already packed at `depth`) use filter 0; `extra` chunks go before IDAT."""
    header = struct.pack(">IIBBBBB", width, len(rows), depth, color_type, 0, 0, 0)
    data = zlib.compress(b"".join(b"\0" + row for row in rows), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def pil_png(image, **options):
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, **options)
    return out.getvalue()


def channel(offset, scale=1):
    """An H x W plane of distinct values, so that any mix-up of pixels or channels shows."""
    y, x = np.mgrid[0:H, 0:W]
    return (offset + scale * (y * W + x) * 13) % 256


def rgba_array():
    return np.stack([channel(0), channel(90), channel(170), channel(30, 3)], axis=-1).astype(np.uint8)


def pngs():
    rgba = rgba_array()
    grey = rgba[..., 0]
    palette = Image.fromarray(rgba[..., :3]).quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    sixteen = ((np.arange(H * W).reshape(H, W) * 3407) % 65536).astype(np.uint16)
    sixteen[0, :4] = [0, 254, 255, 256]  # around the clipping PIL does for 16-bit grey
    be = sixteen.astype(">u2")
    rgb16 = np.stack([be, (65535 - sixteen).astype(">u2"), ((sixteen * 7) % 65536).astype(">u2")], -1)
    rgba16 = np.concatenate([rgb16, np.full((H, W, 1), 0x8000, ">u2")], -1)
    bits = np.array([[(x * 7 + y * 3) % 5 < 2 for x in range(8)] for y in range(H)], dtype=np.uint8)
    short = bytes([10, 20, 30, 40, 50, 60, 70, 80, 90])  # 3 entries; indices 3 and up fall off
    indices = (np.arange(H * W).reshape(H, W) * 7 % 9).astype(np.uint8)
    return {
        "grey.png": pil_png(Image.fromarray(grey, "L")),
        "grey_alpha.png": pil_png(Image.fromarray(rgba[..., [0, 3]], "LA")),
        "rgb.png": pil_png(Image.fromarray(rgba[..., :3], "RGB")),
        "rgba.png": pil_png(Image.fromarray(rgba, "RGBA")),
        "palette.png": pil_png(palette),
        "palette_trns.png": pil_png(palette, transparency=bytes([0, 64, 255, 128])),
        "palette_short.png": raw_png(W, 8, 3, [row.tobytes() for row in indices], chunk(b"PLTE", short)),
        "grey16.png": pil_png(Image.fromarray(sixteen, "I;16")),
        "grey16_trns.png": raw_png(W, 16, 0, [row.tobytes() for row in be],
                                   chunk(b"tRNS", be[0, 1].tobytes())),
        "rgb16.png": raw_png(W, 16, 2, [row.tobytes() for row in rgb16]),
        "rgba16.png": raw_png(W, 16, 6, [row.tobytes() for row in rgba16]),
        "grey1.png": raw_png(8, 1, 0, [np.packbits(row).tobytes() for row in bits]),
        "rgb_trns.png": raw_png(W, 8, 2, [row.tobytes() for row in rgba[..., :3]],
                                chunk(b"tRNS", struct.pack(">HHH", *rgba[1, 2, :3]))),
    }


def jpeg(image, orientation=None, **options):
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def with_orientation(data, orientation):
    """The JPEG with an EXIF APP1 segment holding `orientation` put in after SOI (before JFIF's APP0)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def jpegs():
    # A smooth picture that no flip or turn maps onto itself; odd sides exercise the edges of chroma
    # upsampling, and PIL's default 4:2:0 as well as 4:2:2, 4:4:4, grey and CMYK are covered.
    y, x = np.mgrid[0:9, 0:15]
    picture = np.stack([x * 16, y * 28, 255 - x * 8 - y * 12], -1).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(picture, "RGB")
    files = {f"orientation{o}.jpg": jpeg(image, o) for o in (3, 6, 8)}
    files["plain.jpg"] = jpeg(image)
    files["plain_422.jpg"] = jpeg(image, subsampling=1)
    files["plain_444.jpg"] = jpeg(image, subsampling=0)
    files["grey.jpg"] = jpeg(image.convert("L"))
    files["cmyk.jpg"] = jpeg(image.convert("CMYK"))  # PIL writes an Adobe segment and inverted CMYK
    return files


def webp(image, **options):
    out = io.BytesIO()
    image.save(out, "WEBP", **options)
    return out.getvalue()


def webps():
    # Lossy (YUV 4:2:0, upsampled as libwebp does) and lossless, with and without alpha, on odd sides;
    # and a two-frame animation, which is refused.
    y, x = np.mgrid[0:21, 0:33]
    noise = np.random.default_rng(0).integers(0, 40, (21, 33, 3))
    picture = (np.stack([x * 7, y * 11, 255 - x * 4 - y * 6], -1) + noise).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(picture, "RGB")
    rgba = image.copy()
    rgba.putalpha(Image.fromarray((x * 7 + y * 3).clip(0, 255).astype(np.uint8), "L"))
    frames = [image, image.transpose(Image.FLIP_LEFT_RIGHT)]
    return {
        "lossy.webp": webp(image, quality=80),
        "lossless.webp": webp(image, lossless=True),
        "lossy_alpha.webp": webp(rgba, quality=80),
        "lossless_alpha.webp": webp(rgba, lossless=True),
        "animated.webp": webp(frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0),
    }


def expected(data, transpose):
    image = Image.open(io.BytesIO(data))
    mode = image.mode
    if transpose:
        image = ImageOps.exif_transpose(image)
    rgb = image.convert("RGB")
    return {"mode": mode, "width": rgb.width, "height": rgb.height,
            "rgb": base64.b64encode(np.asarray(rgb).tobytes()).decode()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {**pngs(), **jpegs(), **webps()}
    table = {}
    for name, data in sorted(files.items()):
        (OUT / name).write_bytes(data)
        table[name] = expected(data, name.endswith(".jpg"))
    # The other orientations without more files: the tests put their own APP1 segment into plain.jpg.
    for o in (2, 4, 5, 7):
        table[f"plain.jpg+orientation{o}"] = expected(with_orientation(files["plain.jpg"], o), True)
    about = (f"Written by tools/make_image_fixtures.py with Pillow {PIL.__version__}: each file's pixels "
             "after PIL's Image.open(f).convert('RGB') (JPEGs after ImageOps.exif_transpose), base64 of "
             "RGB bytes.")
    (OUT / "expected.json").write_text(json.dumps({"about": about, "files": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
