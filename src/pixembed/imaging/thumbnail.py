"""Small JPEG thumbnails of decoded images, so stored items can be shown without keeping the originals."""

from __future__ import annotations

import io

from PIL import Image

THUMBNAIL_MAX_SIDE = 256
THUMBNAIL_MEDIA_TYPE = "image/jpeg"


def make_thumbnail(image: Image.Image, max_side: int = THUMBNAIL_MAX_SIDE, quality: int = 82) -> bytes:
    """A JPEG of ``image`` scaled (never up) to fit ``max_side`` x ``max_side``, aspect ratio kept."""
    small = image.convert("RGB") if image.mode != "RGB" else image.copy()
    # Pillow's thumbnail() reduces with draft/reducing_gap first, then resamples: fast and good enough.
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def thumbnail_copy(image: Image.Image, max_side: int = THUMBNAIL_MAX_SIDE) -> Image.Image:
    """A copy of ``image`` no larger than a thumbnail (never scaled up), resized as ``make_thumbnail``
    resizes, for callers that keep an image only to thumbnail it later and should not keep it whole."""
    if max(image.size) <= max_side:
        return image.copy()
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
