"""Fixtures for the imaging tests: anyio on asyncio, and a few small images built in code."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop uvicorn serves pixembed on."""
    return "asyncio"


@pytest.fixture(scope="session")
def noise_image() -> Image.Image:
    """A 24x16 RGB image of random pixels, so that every byte of its encodings matters."""
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8))
