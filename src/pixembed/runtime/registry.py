"""The models pixembed can load: its bundled ones, the image-only ones, and every open_clip pair."""

from __future__ import annotations

from dataclasses import dataclass

from pixembed.runtime.image_models import IMAGE_MODELS
from pixembed.runtime.weights import BUNDLED_MODELS


@dataclass(frozen=True)
class KnownModel:
    """A name for ``--model`` and, where it applies, a tag for ``--pretrained``."""

    model: str
    pretrained: str | None
    text_tower: bool = True
    description: str = ""

    @property
    def id(self) -> str:
        """``model/pretrained``, or the bare name for bundled models."""
        return f"{self.model}/{self.pretrained}" if self.pretrained else self.model


def known_models() -> list[KnownModel]:
    """Bundled models first, the image-only ones, then open_clip's published pairs (with pixembed[torch])."""
    from pixembed.runtime.loading import torch_installed

    bundled = [
        KnownModel(name, None, description="bundled tiny CLIP (tests, demos)") for name in BUNDLED_MODELS
    ]
    bundled += [KnownModel(s.name, None, False, s.description) for s in IMAGE_MODELS.values()]
    if not torch_installed():
        return bundled
    import open_clip

    published = [KnownModel(name, tag) for name, tag in open_clip.list_pretrained()]
    return bundled + published
