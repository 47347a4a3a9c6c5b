"""What every detector takes and returns, so the services never know which one runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
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


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou: float) -> npt.NDArray[np.int64]:
    """Indices of the (x1, y1, x2, y2) boxes non-maximum suppression keeps at ``iou``, best score first.

    OpenCV's NMS (opencv is a core dependency; torchvision's is the same algorithm but needs torch).
    """
    import cv2  # here, not at the top: the CLI and the server import this module without detecting

    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    rects = [(float(x1), float(y1), float(x2 - x1), float(y2 - y1)) for x1, y1, x2, y2 in boxes]
    # OpenCV wants scores >= its threshold >= 0: rank them instead (same order, same ties).
    ranks = np.unique(np.asarray(scores), return_inverse=True)[1].reshape(-1) + 1
    kept = cv2.dnn.NMSBoxes(rects, [float(r) for r in ranks], 0.0, float(iou))
    return np.asarray(kept, dtype=np.int64).reshape(-1)
