"""The procedural shape generator: deterministic, every shape and colour drawable and actually drawn."""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt
import pytest

from pixembed.synthetic import CLASSES, COLOURS, SHAPES, caption, render_shape, sample_dataset


def _pixels(shape: str, colour: str, seed: int, size: int = 96) -> npt.NDArray[np.float64]:
    image = render_shape(shape, colour, size=size, rng=np.random.default_rng(seed))
    return np.asarray(image, dtype=np.float64)


def test_the_issue_s_shapes_and_colours_are_there() -> None:
    assert len(SHAPES) >= 6
    assert len(COLOURS) >= 8
    assert {"circle", "square", "triangle", "star"} <= set(SHAPES)
    assert {"red", "blue", "green", "yellow"} <= set(COLOURS)
    assert len(CLASSES) == len(SHAPES) * len(COLOURS) == len(set(CLASSES))


def test_colours_are_far_apart() -> None:
    values = np.array(list(COLOURS.values()), dtype=np.float64)
    distances = np.linalg.norm(values[:, None] - values[None, :], axis=-1)
    assert distances[~np.eye(len(values), dtype=bool)].min() > 60


def test_captions() -> None:
    assert caption("circle", "red") == "a red circle"
    assert caption("star", "orange") == "an orange star"
    assert len({caption(s, c) for s, c in CLASSES}) == len(CLASSES)
    with pytest.raises(ValueError, match="unknown shape"):
        caption("blob", "red")
    with pytest.raises(ValueError, match="unknown colour"):
        render_shape("circle", "teal", rng=np.random.default_rng(0))


@pytest.mark.parametrize("size", [16, 64, 128, 201])
def test_size_and_mode(size: int) -> None:
    image = render_shape("triangle", "blue", size=size, rng=np.random.default_rng(1))
    assert image.mode == "RGB"
    assert image.size == (size, size)


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        render_shape("circle", "red", size=8, rng=np.random.default_rng(0))


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    assert np.array_equal(_pixels("star", "green", 5), _pixels("star", "green", 5))
    assert not np.array_equal(_pixels("star", "green", 5), _pixels("star", "green", 6))
    first, again = sample_dataset(20, seed=3, size=48), sample_dataset(20, seed=3, size=48)
    assert [(s.shape, s.colour) for s in first] == [(s.shape, s.colour) for s in again]
    assert all(
        np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(first, again, strict=True)
    )


@pytest.mark.parametrize(("shape", "colour"), CLASSES)
def test_every_class_renders_with_its_colour_present(shape: str, colour: str) -> None:
    for seed in range(3):
        pixels = _pixels(shape, colour, seed)
        distance = np.linalg.norm(pixels - np.array(COLOURS[colour]), axis=-1)
        # The shape covers at least a few percent of the frame in (close to) its nominal colour...
        assert (distance < 45).mean() > 0.02, f"{caption(shape, colour)} seed {seed}"
        # ...and the background, which never comes near that colour, still covers a good part of it.
        assert (distance > 90).mean() > 0.3, f"{caption(shape, colour)} seed {seed}"


def test_sample_dataset_is_balanced() -> None:
    samples = sample_dataset(2 * len(CLASSES) + 5, seed=11, size=32)
    counts = Counter((s.shape, s.colour) for s in samples)
    assert set(counts) == set(CLASSES)
    assert set(counts.values()) <= {2, 3}
    assert samples[0].caption == caption(samples[0].shape, samples[0].colour)
    assert sample_dataset(0, seed=1) == []
