"""Small helpers the tests share."""

from __future__ import annotations

import io

from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    """An image's bytes in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
