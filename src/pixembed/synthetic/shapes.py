"""Pictures of one coloured shape on a varied background, drawn from a seed, with their captions.

The tiny model is trained and tested on these, so everything here is deterministic given a
``numpy.random.Generator``: the same seed gives the same pixels (with the same numpy and Pillow).

Shapes (``SHAPES``): circle, square, triangle, star, cross, heart.

Colours (``COLOURS``, sRGB): red, orange, yellow, green, cyan, blue, purple, pink. They are saturated
and far apart, and no background is ever drawn close to the shape's colour, so the caption always names
the colour of the shape rather than of the background.

Each picture varies the shape's size (spanning roughly 40% to 90% of the frame), position, rotation and
exact shade, the background (plain light, dark or muted hue, gradient, stripes or blotches) and the
amount of pixel noise.
"""

from __future__ import annotations

import colorsys
import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "heart")

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "orange": (250, 135, 10),
    "yellow": (245, 215, 20),
    "green": (30, 160, 60),
    "cyan": (20, 195, 215),
    "blue": (30, 70, 215),
    "purple": (135, 50, 190),
    "pink": (250, 110, 190),
}

CLASSES: tuple[tuple[str, str], ...] = tuple((shape, colour) for colour in COLOURS for shape in SHAPES)
"""Every (shape, colour) pair, in a fixed order: the label set of the zero-shot evaluation."""

_SUPERSAMPLE = 4
# Background colours closer than this (Euclidean, 0-255 RGB) to the shape's colour are redrawn, so that
# no picture is ambiguous about which colour the caption means.
_MIN_BACKGROUND_DISTANCE = 110.0
_Array = npt.NDArray[np.float64]


class Sample(NamedTuple):
    """One generated picture and the shape and colour it shows."""

    image: Image.Image
    shape: str
    colour: str

    @property
    def caption(self) -> str:
        """The plain caption of this picture, e.g. ``"a red circle"``."""
        return caption(self.shape, self.colour)


def caption(shape: str, colour: str) -> str:
    """The plain caption for a shape and colour: ``"a red circle"``, ``"an orange star"``."""
    _check(shape, colour)
    article = "an" if colour[0] in "aeiou" else "a"
    return f"{article} {colour} {shape}"


def render_shape(shape: str, colour: str, *, size: int = 128, rng: np.random.Generator) -> Image.Image:
    """A ``size`` x ``size`` RGB picture of one ``colour`` ``shape``; all else is drawn from ``rng``."""
    _check(shape, colour)
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    fill = np.array(COLOURS[colour], dtype=np.float64)
    # float32 from here on: the arithmetic over every pixel is most of the cost of a picture.
    background = _background(fill, size, rng).astype(np.float32)
    coverage = _shape_mask(shape, size, rng).astype(np.float32)[:, :, None]
    # A gentle brightness ramp across the frame reads as lighting; kept small so that no shade drifts
    # towards a neighbouring colour (yellow towards orange, pink towards red).
    shade = (fill + rng.normal(0.0, 6.0, 3)).astype(np.float32)
    ramp = _ramp(size, rng, low=float(rng.uniform(0.9, 1.0)), high=float(rng.uniform(1.0, 1.08)))
    pixels = background + (shade * ramp.astype(np.float32)[:, :, None] - background) * coverage
    noise_level = float(rng.choice([0.0, 3.0, 6.0, 10.0, 14.0]))
    if noise_level:
        pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(noise_level)
    np.clip(pixels, 0, 255, out=pixels)
    return Image.fromarray(np.rint(pixels, out=pixels).astype(np.uint8))


def sample_dataset(n: int, *, seed: int, size: int = 128) -> list[Sample]:
    """``n`` pictures balanced over ``CLASSES``: each pair ``n // len(CLASSES)`` times or once more."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    while len(samples) < n:
        # Whole shuffled rounds of every class keep any prefix of the set balanced.
        for index in rng.permutation(len(CLASSES))[: n - len(samples)]:
            shape, colour = CLASSES[int(index)]
            samples.append(Sample(render_shape(shape, colour, size=size, rng=rng), shape, colour))
    return samples


def _check(shape: str, colour: str) -> None:
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known shapes: {', '.join(SHAPES)}")
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; known colours: {', '.join(COLOURS)}")


def _outline(shape: str, rng: np.random.Generator) -> _Array:
    """The shape's outline as (N, 2) points around the origin, reaching out to radius about 1."""
    if shape == "circle":
        return _polar(np.linspace(0.0, 2 * math.pi, 96, endpoint=False), 0.9)
    if shape == "square":
        return _polar(np.arange(4) * (math.pi / 2) + math.pi / 4, 1.0)
    if shape == "triangle":
        return _polar(np.arange(3) * (2 * math.pi / 3) - math.pi / 2, 1.0)
    if shape == "star":
        radii = np.where(np.arange(10) % 2 == 0, 1.0, float(rng.uniform(0.38, 0.5)))
        return _polar(np.arange(10) * (math.pi / 5) - math.pi / 2, radii)
    if shape == "cross":
        arm = float(rng.uniform(0.25, 0.36))
        quarter = np.array([(arm, 0.95), (arm, arm), (0.95, arm)])
        turn = np.array([[0.0, -1.0], [1.0, 0.0]])
        return np.concatenate([quarter @ np.linalg.matrix_power(turn, k) for k in range(4)])
    # heart: the classic parametric curve, flipped so that the point is at the bottom, then centred.
    t = np.linspace(0.0, 2 * math.pi, 80, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2
    return np.asarray(points / np.abs(points).max(), dtype=np.float64)


def _polar(angles: npt.ArrayLike, radii: npt.ArrayLike) -> _Array:
    return np.asarray(
        np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.reshape(radii, (-1, 1)), dtype=np.float64
    )


def _shape_mask(shape: str, size: int, rng: np.random.Generator) -> _Array:
    """Coverage in [0, 1] of a randomly sized, rotated and placed shape, anti-aliased by supersampling."""
    points = _outline(shape, rng)
    angle = float(rng.uniform(0.0, 2 * math.pi))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = points @ rotation.T * (float(rng.uniform(0.2, 0.46)) * size)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 1.0
    # The whole shape stays inside the frame: a cut-off star could pass for something else.
    centre = np.array(
        [rng.uniform(margin - low[i], max(margin - low[i], size - margin - high[i])) for i in range(2)]
    )
    scaled = (points + centre) * _SUPERSAMPLE
    canvas = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in scaled], fill=255)
    coverage = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(coverage, dtype=np.float64) / 255.0


def _background(fill: _Array, size: int, rng: np.random.Generator) -> _Array:
    """An (size, size, 3) float background whose every colour keeps clear of ``fill``."""
    kind = rng.choice(["plain", "gradient", "stripes", "blotches"], p=[0.35, 0.3, 0.15, 0.2])
    first = _background_colour(fill, rng)
    if kind == "plain":
        return np.broadcast_to(first, (size, size, 3)).copy()
    if kind == "blotches":
        second = _background_colour(fill, rng)
        cells = int(rng.integers(2, 6))
        weights = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        smooth = np.asarray(weights.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64) / 255
        return first * (1 - smooth[:, :, None]) + second * smooth[:, :, None]
    # Gradients and stripes use a second colour near the first, so the background never has two regions
    # that together could be mistaken for a shape.
    second = _background_colour(fill, rng) if kind == "gradient" else _near(first, fill, rng)
    if kind == "gradient":
        weight = _ramp(size, rng, low=0.0, high=1.0)
    else:
        period = float(rng.uniform(4.0, 16.0))
        weight = (_ramp(size, rng, low=0.0, high=size / period) % 1.0 < 0.5).astype(np.float64)
    return first * (1 - weight[:, :, None]) + second * weight[:, :, None]


def _background_colour(fill: _Array, rng: np.random.Generator) -> _Array:
    """A light, dark or muted colour at least ``_MIN_BACKGROUND_DISTANCE`` from ``fill``."""
    while True:
        hue = float(rng.random())
        saturation = float(rng.choice([0.0, rng.uniform(0.0, 0.15), rng.uniform(0.15, 0.45)]))
        value = float(rng.choice([rng.uniform(0.75, 1.0), rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.75)]))
        colour = np.array(colorsys.hsv_to_rgb(hue, saturation, value)) * 255
        if np.linalg.norm(colour - fill) >= _MIN_BACKGROUND_DISTANCE:
            return colour


def _near(base: _Array, fill: _Array, rng: np.random.Generator) -> _Array:
    """A colour a little lighter or darker than ``base``, still clear of ``fill``."""
    for _ in range(20):
        colour = np.clip(base + rng.uniform(-40.0, 40.0), 0, 255)
        if np.linalg.norm(colour - fill) >= _MIN_BACKGROUND_DISTANCE:
            return colour
    return base


def _ramp(size: int, rng: np.random.Generator, *, low: float, high: float) -> _Array:
    """A (size, size) linear ramp from ``low`` to ``high`` along a random direction."""
    angle = float(rng.uniform(0.0, 2 * math.pi))
    coords = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    projection = coords[None, :] * math.cos(angle) + coords[:, None] * math.sin(angle)
    # The projection of the unit square onto any direction stays within +-sqrt(2)/2.
    unit = projection / math.sqrt(2) + 0.5
    return low + (high - low) * unit
