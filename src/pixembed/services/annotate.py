"""Draw detections on a copy of the image with Pillow and encode it as PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

# Distinct, saturated colours for the boxes, one per class (cycled).
PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
)


def annotate(
    image: Image.Image, boxes: Sequence[Sequence[float]], captions: Sequence[str], colours: Sequence[int]
) -> bytes:
    """PNG bytes of ``image`` with each box outlined and its caption on a filled tag above it."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(min(canvas.size) / 200))
    font = ImageFont.load_default(size=max(10, round(min(canvas.size) / 30)))
    for box, text, index in zip(boxes, captions, colours, strict=True):
        colour = PALETTE[index % len(PALETTE)]
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=colour, width=line)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_h = bottom - top + 4
        tag_y = y1 - tag_h if y1 - tag_h >= 0 else y1
        draw.rectangle((x1, tag_y, x1 + right - left + 4, tag_y + tag_h), fill=colour)
        draw.text((x1 + 2 - left, tag_y + 2 - top), text, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
