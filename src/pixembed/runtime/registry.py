"""The models pixembed can load: its bundled ones and every open_clip model/pretrained pair."""

from __future__ import annotations

from dataclasses import dataclass

from pixembed.runtime.weights import BUNDLED_MODELS


@dataclass(frozen=True)
class KnownModel:
    """A name for ``--model`` and, where it applies, a tag for ``--pretrained``."""

    model: str
    pretrained: str | None

    @property
    def id(self) -> str:
        """``model/pretrained``, or the bare name for bundled models."""
        return f"{self.model}/{self.pretrained}" if self.pretrained else self.model


def known_models() -> list[KnownModel]:
    """Bundled models first, then open_clip's published pairs (where pixembed[torch] is installed)."""
    from pixembed.runtime.loading import torch_installed

    bundled = [KnownModel(name, None) for name in BUNDLED_MODELS]
    if not torch_installed():
        return bundled
    import open_clip

    published = [KnownModel(name, tag) for name, tag in open_clip.list_pretrained()]
    return bundled + published
