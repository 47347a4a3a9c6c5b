"""The labelled image sets of the dedup benchmark: real photographs with edits, and generated shapes.

Photographs: every photograph that the installed packages ship as a file (scikit-image's data folder,
scikit-learn's sample images, matplotlib's sample data), no download. Left out: scikit-image's
chessboards and multipage TIFFs (a few hundred bytes of test pattern, not photographs) and networkx's
plot baselines (test renderings of graphs, several near-identical to each other). scikit-image's two
motorcycle photographs are a stereo pair: kept, as two *different* photographs (a hard negative).

Each photograph gets ``EDITS``: recompression, resizes, crops, borders, rotations of 1-10 degrees with
dark or mirrored corners, text overlays, colour changes, greyscale and flips. Ground truth: two files are
duplicates when they come from the same photograph.

Shapes: the issue's case (flat shapes drawn on a white 200 px canvas, some with a resized and a JPEG-40
copy) and pictures from ``pixembed.synthetic`` with copies.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from pixembed.synthetic.flat import FLAT_SHAPES, flat_shape
from pixembed.synthetic.shapes import render_shape

SKIP = {"chessboard_RGB", "chessboard_GRAY", "multipage", "multipage_rgb"}
PHOTO_SUFFIXES = {".png", ".jpg", ".gif", ".tif"}
Edit = Callable[[Image.Image], Image.Image]


def photo_files() -> list[Path]:
    """The photograph files the installed packages ship."""
    import matplotlib
    import skimage
    import sklearn

    folders = [
        Path(skimage.__file__).parent / "data",
        Path(sklearn.__file__).parent / "datasets" / "images",
        Path(matplotlib.__file__).parent / "mpl-data" / "sample_data",
    ]
    files = []
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in PHOTO_SUFFIXES and path.stem not in SKIP:
                files.append(path)
    return files


def photographs(side: int = 512) -> dict[str, Image.Image]:
    """Each shipped photograph, RGB, at most ``side`` pixels on the long side."""
    photos = {}
    for path in photo_files():
        with Image.open(path) as raw:
            image = raw.convert("RGB")
        image.thumbnail((side, side))
        photos[path.stem] = image
    return photos


def rotate(degrees: float, corners: str) -> Edit:
    """Rotation about the centre, same frame; corners black (``dark``) or reflected (``mirror``)."""

    def edit(image: Image.Image) -> Image.Image:
        if corners == "dark":
            return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
        from skimage.transform import rotate as sk_rotate

        pixels = sk_rotate(np.asarray(image), degrees, mode="symmetric", preserve_range=True, order=3)
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    return edit


def crop(left: float, top: float, right: float, bottom: float) -> Edit:
    def edit(image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))

    return edit


def scale(factor: float) -> Edit:
    def edit(image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.resize((max(8, int(w * factor)), max(8, int(h * factor))), Image.Resampling.LANCZOS)

    return edit


def border(fraction: float, colour: tuple[int, int, int]) -> Edit:
    return lambda image: ImageOps.expand(image, border=int(max(image.size) * fraction), fill=colour)


def text(words: str, at: tuple[float, float], colour: tuple[int, int, int]) -> Edit:
    def edit(image: Image.Image) -> Image.Image:
        out = image.copy()
        w, h = image.size
        ImageDraw.Draw(out).text((w * at[0], h * at[1]), words, fill=colour, font_size=max(10, h // 14))
        return out

    return edit


def colour(brightness: float, saturation: float, contrast: float = 1.0) -> Edit:
    def edit(image: Image.Image) -> Image.Image:
        image = ImageEnhance.Brightness(image).enhance(brightness)
        return ImageEnhance.Contrast(ImageEnhance.Color(image).enhance(saturation)).enhance(contrast)

    return edit


def keep(image: Image.Image) -> Image.Image:
    return image


# name -> (edit, format, JPEG quality)
EDITS: dict[str, tuple[Edit, str, int]] = {
    "orig": (keep, "PNG", 0),
    "q90": (keep, "JPEG", 90),
    "q50": (keep, "JPEG", 50),
    "q20": (keep, "JPEG", 20),
    "half": (scale(0.5), "PNG", 0),
    "x075q70": (scale(0.75), "JPEG", 70),
    "crop5": (crop(0.05, 0.05, 0, 0), "PNG", 0),
    "crop10": (crop(0.05, 0.05, 0.05, 0.05), "PNG", 0),
    "crop15": (crop(0.15, 0.0, 0.0, 0.1), "JPEG", 85),
    "rot1d": (rotate(1, "dark"), "PNG", 0),
    "rot3m": (rotate(-3, "mirror"), "PNG", 0),
    "rot5d": (rotate(5, "dark"), "PNG", 0),
    "rot7m": (rotate(7, "mirror"), "JPEG", 80),
    "rot10d": (rotate(-10, "dark"), "PNG", 0),
    "border_white": (border(0.05, (255, 255, 255)), "PNG", 0),
    "border_black": (border(0.08, (0, 0, 0)), "JPEG", 85),
    "text": (text("SALE 50% OFF www.example.com", (0.1, 0.5), (255, 255, 0)), "PNG", 0),
    "caption": (text("holiday 2024", (0.05, 0.85), (255, 255, 255)), "JPEG", 85),
    "jitter": (colour(1.2, 1.3), "PNG", 0),
    "dark": (colour(0.7, 0.8, 1.2), "JPEG", 85),
    "grey": (lambda image: ImageOps.grayscale(image).convert("RGB"), "PNG", 0),
    "flip": (ImageOps.mirror, "PNG", 0),
}


def write_files(
    folder: Path, named: dict[str, list[tuple[str, Image.Image, str, int]]]
) -> list[tuple[Path, str]]:
    """Write every (file stem, image, format, quality) of every source; returns (path, source)."""
    files = []
    for source, versions in named.items():
        for stem, image, fmt, quality in versions:
            path = folder / f"{stem}.{'jpg' if fmt == 'JPEG' else 'png'}"
            image.save(path, fmt, **({"quality": quality} if quality else {}))
            files.append((path, source))
    return files


def write_photo_set(folder: Path) -> list[tuple[Path, str]]:
    """Every edit of every photograph as a file; returns (path, source photograph)."""
    named = {
        name: [(f"{name}__{edit}", fn(photo), fmt, quality) for edit, (fn, fmt, quality) in EDITS.items()]
        for name, photo in photographs().items()
    }
    return write_files(folder, named)


FLAT_SET = [(shape, colour) for shape in FLAT_SHAPES for colour in ("red", "green", "blue")]


def with_copies(name: str, image: Image.Image, copied: bool) -> list[tuple[str, Image.Image, str, int]]:
    versions = [(name, image, "PNG", 0)]
    if copied:
        w, h = image.size
        versions.append(
            (f"{name}_small", image.resize((w * 3 // 5, h * 3 // 5), Image.Resampling.BICUBIC), "PNG", 0)
        )
        versions.append((f"{name}_q40", image, "JPEG", 40))
    return versions


def write_shape_sets(folder: Path) -> list[tuple[Path, str]]:
    """The issue's 12 flat shapes (5 with two copies) and 40 generated pictures (13 with two copies)."""
    named = {}
    for n, (shape, fill) in enumerate(FLAT_SET):
        name = f"{fill}_{shape}"
        named[name] = with_copies(name, flat_shape(shape, fill), n % 2 == 0 and n < 10)
    rng = np.random.default_rng(17)
    shapes = ("circle", "square", "triangle", "star", "cross", "heart")
    fills = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
    for n in range(40):
        shape, fill = shapes[n % 6], fills[(n // 6 + n) % 8]
        name = f"gen{n:02d}_{fill}_{shape}"
        named[name] = with_copies(name, render_shape(shape, fill, size=200, rng=rng), n % 3 == 0)
    return write_files(folder, named)
