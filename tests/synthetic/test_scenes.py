"""Generated scenes: their true boxes hold the shapes they name, and nothing else is drawn."""

from __future__ import annotations

import numpy as np

from pixembed.synthetic.scenes import render_scene
from pixembed.synthetic.shapes import COLOURS


def test_boxes_are_tight_separate_and_hold_their_colour() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        scene = render_scene(rng)
        assert 2 <= len(scene.objects) <= 5
        pixels = np.asarray(scene.image, dtype=np.float64)
        for i, obj in enumerate(scene.objects):
            x1, y1, x2, y2 = obj.box
            assert 0 <= x1 < x2 <= scene.image.width and 0 <= y1 < y2 <= scene.image.height
            region = pixels[y1:y2, x1:x2].reshape(-1, 3)
            near = np.linalg.norm(region - np.array(COLOURS[obj.colour]), axis=1) < 60
            assert near.mean() > 0.3, obj  # the shape fills a good part of its own box
            for other in scene.objects[i + 1 :]:
                a, b = obj.box, other.box
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_same_seed_same_scene_and_empty_scenes() -> None:
    first = render_scene(np.random.default_rng(4))
    again = render_scene(np.random.default_rng(4))
    assert first.objects == again.objects
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert render_scene(np.random.default_rng(5), count=0).objects == []
