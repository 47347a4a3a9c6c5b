"""Photo-like pictures and cosine helpers for the runtime fidelity tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def photos(n: int) -> list[Image.Image]:
    """Gradients with smooth or grainy noise, of assorted sizes: photo-like enough for fidelity checks."""
    rng = np.random.default_rng(7)
    images = []
    for i in range(n):
        h, w = int(rng.integers(120, 500)), int(rng.integers(120, 500))
        base = rng.integers(0, 255, (1, 1, 3))
        ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 255, (1, 1, 3))
        noise = rng.normal(0, 30 if i % 2 else 5, (h, w, 3))
        pixels = np.clip(base * 0.5 + ramp * 0.5 + noise, 0, 255).astype(np.uint8)
        images.append(Image.fromarray(pixels))
    return images


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)
