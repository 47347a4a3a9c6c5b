"""Keep CLIP's resize from blowing up on extreme aspect ratios."""

from __future__ import annotations

from PIL import Image

# CLIP resizes the short side to 224 and then keeps only the central square. For a 1x50000 image that
# resize alone allocates 224 x 11.2 million pixels (7.5 GB) from a file of a few hundred bytes, so the
# long side is first cut to this many short sides around the centre: the square CLIP keeps, plus a
# margin that leaves the resampling filter the same neighbourhood it had.
MAX_ASPECT = 4.0


def crop_extreme_aspect(image: Image.Image, max_ratio: float = MAX_ASPECT) -> Image.Image:
    """The central region of ``image`` with its long side at most ``max_ratio`` times the short side."""
    width, height = image.size
    short = min(width, height)
    keep = max(short, int(short * max_ratio))
    if max(width, height) <= keep:
        return image
    if width > height:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))
