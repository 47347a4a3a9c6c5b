"""``LoadOptions``: everything that decides how a model is loaded and served, in one frozen object.

Built once from ``Settings`` (``LoadOptions.from_settings``) by the server, the CLI and the Ray indexer, and
handed to ``runtime.loading.load_model``; nothing else spells the loader's arguments out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixembed.config import Settings

RUNTIMES = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class LoadOptions:
    """Which model, from which weights, through which runtime and precision, batched how."""

    model: str = "ViT-B-32"
    pretrained: str | None = None
    weights: Path | None = None
    runtime: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"
    batch_size: int = 32
    batch_wait_ms: float = 2.0
    max_queue_items: int = 512
    text_cache_size: int = 4096
    threads: int | None = None
    cache_dir: str | None = None
    """The Hugging Face / open_clip weights cache (None: their defaults)."""
    download_timeout_s: float = 20.0
    data_dir: Path | None = None
    """Where exported ONNX models are cached (``DATA_DIR/onnx``); None: the default data dir."""

    def __post_init__(self) -> None:
        # Paths may be given as strings (tests, scripts); store them as Paths.
        for name in ("weights", "data_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadOptions:
        """The options ``settings`` give (fields of the same name)."""
        names = {f.name for f in fields(cls)} - {"cache_dir"}
        return cls(**{name: getattr(settings, name) for name in names})

    @property
    def onnx_cache(self) -> Path:
        """The folder exported ONNX models live in."""
        if self.data_dir is not None:
            return self.data_dir / "onnx"
        from pixembed.config import default_data_dir

        return default_data_dir() / "onnx"
