"""The seam between pixembed and a model runtime: one small protocol, one class per runtime.

A session takes preprocessed pixels and token ids (numpy, made by imaging/preprocess.py and
runtime/tokenizer.py) and returns L2-normalised float32 rows. ``OnnxSession`` (onnx_session.py) serves on
CPUs by default and on CUDA through ONNX Runtime's provider; ``TorchSession`` (torch_session.py) serves
open_clip modules (GPU fp16, bf16 on AMX CPUs, anything ONNX cannot run). Adding an accelerator is one
new class here, as in immich's ``sessions/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Pixels = npt.NDArray[np.float32]
Tokens = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SessionInfo:
    """What serves: the runtime, the precision it computes in, and the device."""

    runtime: str
    precision: str
    device: str


class ModelSession(Protocol):
    """Both towers of one CLIP model in one runtime and precision; safe to call from one thread at a time."""

    @property
    def info(self) -> SessionInfo:
        """The runtime, precision and device of this session."""
        ...

    def encode_images(self, pixels: Pixels) -> Vectors:
        """(N, 3, H, W) preprocessed pixels -> (N, D) unit vectors."""
        ...

    def encode_tokens(self, tokens: Tokens) -> Vectors:
        """(N, context) zero-padded token ids -> (N, D) unit vectors."""
        ...


def normalise(features: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length, as float32 (a zero row stays zero)."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.asarray(features / np.maximum(norms, 1e-12), dtype=np.float32)


def trimmed_length(tokens: Tokens) -> int:
    """Positions up to and including a batch's last end-of-text token (the highest id, pooled by argmax)."""
    return int(tokens.argmax(axis=-1).max()) + 1
