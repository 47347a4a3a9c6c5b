"""Flat pictures: one shape in one plain colour, centred on a white canvas, nothing drawn at random.

The hard case of duplicate detection: a perceptual hash sees grey levels and edges only, so a red and a
green circle (or a star and a triangle of similar area) can hash within a few bits of each other while
being different pictures. Used by the dedup tests and benchmarks/bench_dedup.py.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from pixembed.synthetic.shapes import COLOURS

FLAT_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")


def flat_shape(shape: str, colour: str, size: int = 200) -> Image.Image:
    """A ``size`` x ``size`` white picture of one flat ``colour`` ``shape`` (one of ``FLAT_SHAPES``)."""
    if shape not in FLAT_SHAPES or colour not in COLOURS:
        raise ValueError(f"flat shapes are {', '.join(FLAT_SHAPES)} in one of {', '.join(COLOURS)}")
    image = Image.new("RGB", (size, size), "white")
    draw, centre, radius, fill = ImageDraw.Draw(image), size / 2, size * 0.35, COLOURS[colour]
    if shape == "circle":
        draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), fill=fill)
    elif shape == "square":
        draw.rectangle((centre - radius, centre - radius, centre + radius, centre + radius), fill=fill)
    elif shape == "triangle":
        top, low = (centre, centre - radius), centre + radius * 0.8
        draw.polygon([top, (centre + radius, low), (centre - radius, low)], fill=fill)
    else:
        points = []
        for k in range(10):
            angle, reach = math.pi / 2 + k * math.pi / 5, radius if k % 2 == 0 else radius * 0.45
            points.append((centre + reach * math.cos(angle), centre - reach * math.sin(angle)))
        draw.polygon(points, fill=fill)
    return image
