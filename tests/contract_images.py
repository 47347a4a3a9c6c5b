"""Pictures for the dedup, cluster and detection tests: near-copies, and two shapes side by side."""

from __future__ import annotations

import io

from PIL import Image

from tests.helpers import encode


def near_copy(png: bytes) -> bytes:
    """The same picture, scaled down and re-encoded as JPEG: a near-duplicate, not a byte copy."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return encode(image.resize((image.width * 3 // 4, image.height * 3 // 4)), "JPEG", quality=85)


def side_by_side(
    left_png: bytes, right_png: bytes
) -> tuple[bytes, tuple[int, int, int, int], tuple[int, ...]]:
    """Two pictures pasted next to each other; with the left and right halves' boxes (x1, y1, x2, y2)."""
    left = Image.open(io.BytesIO(left_png)).convert("RGB")
    right = Image.open(io.BytesIO(right_png)).convert("RGB")
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return (
        encode(canvas, "PNG"),
        (0, 0, left.width, left.height),
        (left.width, 0, left.width + right.width, right.height),
    )
