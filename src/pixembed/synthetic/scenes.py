"""Scenes of several coloured shapes on one background, with each shape's true box: detection data.

Built from the same pieces as ``shapes.render_shape`` (outlines, anti-aliased masks, backgrounds that keep
clear of every shape's colour), so the tiny model sees shapes it was trained on, only smaller and several
to a picture. Deterministic given a ``numpy.random.Generator``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.synthetic.shapes import COLOURS, SHAPES, _background, _check, _shape_mask, caption

Box = tuple[int, int, int, int]
_Pixels = npt.NDArray[np.float32]
_Colour = npt.NDArray[np.float64]


class SceneObject(NamedTuple):
    """One shape in a scene and its tight box ``(x1, y1, x2, y2)`` in pixels (x2, y2 exclusive)."""

    shape: str
    colour: str
    box: Box

    @property
    def caption(self) -> str:
        """``"a red circle"``."""
        return caption(self.shape, self.colour)


class Scene(NamedTuple):
    """A generated picture and the shapes in it."""

    image: Image.Image
    objects: list[SceneObject]


def render_scene(
    rng: np.random.Generator,
    *,
    width: int = 320,
    height: int = 240,
    count: int | None = None,
    min_size: int = 40,
    max_size: int = 110,
    kinds: list[tuple[str, str]] | None = None,
) -> Scene:
    """A scene with ``count`` (default 2-5) non-overlapping shapes of random kind, size and place.

    ``kinds`` fixes the (shape, colour) of each object instead; ``count=0`` gives an empty background.
    """
    if kinds is not None:
        for shape, colour in kinds:
            _check(shape, colour)
        count = len(kinds)
    elif count is None:
        count = int(rng.integers(2, 6))
    if kinds is None:
        kinds = [(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))) for _ in range(count)]
    fills = [np.array(COLOURS[colour], dtype=np.float64) for _, colour in kinds]
    pixels = _scene_background(fills, width, height, rng)
    objects: list[SceneObject] = []
    for (shape, colour), fill in zip(kinds, fills, strict=True):
        placed = _place(shape, pixels, fill, objects, rng, min_size=min_size, max_size=max_size)
        if placed is not None:
            objects.append(SceneObject(shape, colour, placed))
    noise_level = float(rng.choice([0.0, 3.0, 6.0, 10.0]))
    if noise_level:
        pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(noise_level)
    np.clip(pixels, 0, 255, out=pixels)
    return Scene(Image.fromarray(np.rint(pixels).astype(np.uint8)), objects)


def _scene_background(fills: list[_Colour], width: int, height: int, rng: np.random.Generator) -> _Pixels:
    """A background whose colours keep clear of every fill: drawn for one, checked against all."""
    side = max(width, height)
    for _ in range(50):
        reference = fills[int(rng.integers(len(fills)))] if fills else np.array([255.0, 0.0, 255.0])
        square = _background(reference, side, rng)[:height, :width]
        corners = square.reshape(-1, 3)[:: max(1, square.size // 3 // 64)]
        if all(np.min(np.linalg.norm(corners - fill, axis=1)) >= 90.0 for fill in fills):
            break
    return np.ascontiguousarray(square, dtype=np.float32)


def _place(
    shape: str,
    pixels: _Pixels,
    fill: _Colour,
    placed: list[SceneObject],
    rng: np.random.Generator,
    *,
    min_size: int,
    max_size: int,
) -> Box | None:
    """Draw one shape where it overlaps nothing placed; its tight box, or None when no room was found."""
    height, width = pixels.shape[:2]
    for _ in range(40):
        patch = int(rng.integers(min_size, max_size + 1))
        # render_shape's mask spans 40-92% of its frame; draw it large, then keep its tight bounding box.
        coverage = _shape_mask(shape, int(patch * 1.6), rng).astype(np.float32)
        ys, xs = np.nonzero(coverage > 0.5)
        if len(xs) == 0:
            continue
        top, left = int(ys.min()), int(xs.min())
        mask = coverage[top : int(ys.max()) + 1, left : int(xs.max()) + 1]
        h, w = mask.shape
        if w >= width or h >= height:
            continue
        x1, y1 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        box = (x1, y1, x1 + w, y1 + h)
        if any(_gap_overlaps(box, other.box, 4) for other in placed):
            continue
        shade = (fill + rng.normal(0.0, 6.0, 3)).astype(np.float32)
        region = pixels[y1 : y1 + h, x1 : x1 + w]
        region += (shade - region) * mask[:, :, None]
        return box
    return None


def _gap_overlaps(a: Box, b: Box, gap: int) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])
