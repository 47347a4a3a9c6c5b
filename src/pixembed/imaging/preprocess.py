"""CLIP's image preprocessing in Pillow and numpy: resize, centre crop, scale, normalise.

The same steps as open_clip's torchvision pipeline for inference (``image_transform(is_train=False)``):
Pillow does the resampling in both (torchvision's ``Resize`` on a PIL image calls ``Image.resize``), so the
uint8 pixels are identical and only the float arithmetic remains. Written here so that serving needs neither
torch nor torchvision; tests/runtime/test_preprocess_tokens.py proves it within 1e-5 of open_clip's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

Pixels = npt.NDArray[np.float32]
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
# open_clip's "longest" (resize the long side, then pad) is not offered: no CLIP checkpoint here uses it.
RESIZE_MODES = ("shortest", "squash")


@dataclass(frozen=True)
class Preprocess:
    """One model's preprocessing: ``size`` square input, ``resize_mode`` as open_clip names it."""

    size: int = 224
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"
    crop_pct: float = 1.0
    """The centre crop's share of the resized short side (timm's ``crop_pct``; CLIP crops all of it)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Preprocess:
        """From an open_clip/immich ``preprocess_cfg`` (``size`` may be an int or a square pair)."""
        size = config.get("size", 224)
        if isinstance(size, list | tuple):
            if len(set(size)) != 1:
                raise ValueError(f"non-square input size {size} is not supported")
            size = size[0]
        resize_mode = str(config.get("resize_mode", "shortest"))
        interpolation = str(config.get("interpolation", "bicubic"))
        if resize_mode not in RESIZE_MODES or interpolation not in _FILTERS:
            raise ValueError(f"unsupported preprocessing: {resize_mode} resize, {interpolation} filter")
        return cls(
            size=int(size),
            mean=tuple(float(x) for x in config.get("mean", CLIP_MEAN)),
            std=tuple(float(x) for x in config.get("std", CLIP_STD)),
            interpolation=interpolation,
            resize_mode=resize_mode,
            crop_pct=float(config.get("crop_pct", 1.0)),
        )

    def to_config(self) -> dict[str, Any]:
        """The ``preprocess_cfg.json`` form (open_clip's keys, as immich writes them)."""
        config: dict[str, Any] = {
            "size": [self.size, self.size],
            "mode": "RGB",
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "resize_mode": self.resize_mode,
        }
        if self.crop_pct != 1.0:
            config["crop_pct"] = self.crop_pct
        return config

    def __call__(self, image: Image.Image) -> Pixels:
        """One RGB image -> a (3, size, size) float32 array, normalised."""
        image = self._resized(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        array = np.asarray(image, dtype=np.float32) / np.float32(255.0)
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))

    def batch(self, images: Sequence[Image.Image]) -> Pixels:
        """Several images -> (N, 3, size, size)."""
        if not images:
            return np.zeros((0, 3, self.size, self.size), dtype=np.float32)
        return np.stack([self(image) for image in images])

    def _resized(self, image: Image.Image) -> Image.Image:
        resample = _FILTERS[self.interpolation]
        size = self.size
        width, height = image.size
        if self.resize_mode == "squash":
            return image.resize((size, size), resample)
        # timm's eval transform: Resize(floor(size / crop_pct)), then CenterCrop(size).
        scaled = math.floor(size / self.crop_pct)
        # torchvision's Resize(int): the short side becomes ``scaled``, the long side in proportion.
        short, long = sorted((width, height))
        other = int(scaled * long / short)
        target = (scaled, other) if width == short else (other, scaled)
        if target != (width, height):
            image = image.resize(target, resample)
        # torchvision's CenterCrop: offsets rounded to the nearest integer.
        left = round((image.width - size) / 2.0)
        top = round((image.height - size) / 2.0)
        return image.crop((left, top, left + size, top + size))
