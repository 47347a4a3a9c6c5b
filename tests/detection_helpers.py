"""Scenes with known boxes, and the IoU check, shared by the detection tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixembed.synthetic.scenes import Scene, render_scene

KINDS = [("circle", "red"), ("square", "blue"), ("star", "yellow")]


def three_shape_scene(seed: int = 3) -> Scene:
    """A red circle, a blue square and a yellow star on a generated background."""
    return render_scene(np.random.default_rng(seed), kinds=KINDS)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
