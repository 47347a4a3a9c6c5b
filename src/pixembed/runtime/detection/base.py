"""What every detector takes and returns, so the services never know which one runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class ClassQuery:
    """One class to look for: its display name and the prompts that describe it (an ensemble)."""

    name: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class RawDetection:
    """A found object: its box in pixels of the image given, the index of its class, and a score in [0, 1]."""

    box: tuple[float, float, float, float]
    class_index: int
    score: float


class Detector(Protocol):
    """Finds instances of the given classes in one RGB image; safe to call from worker threads."""

    name: str
    default_threshold: float

    def detect(
        self, image: Image.Image, classes: Sequence[ClassQuery], *, threshold: float, top_k: int
    ) -> list[RawDetection]:
        """At most ``top_k`` detections scoring at least ``threshold``, best first."""
        ...
