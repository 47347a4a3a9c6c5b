"""``TorchSession``: an open_clip module served through torch (GPU fp16, bf16 on AMX CPUs, int8, fp32)."""

from __future__ import annotations

import threading
from typing import Any

import torch

from pixembed.runtime.session import Pixels, SessionInfo, Tokens, Vectors, normalise
from pixembed.runtime.text_tower import can_trim, encode_text_trimmed
from pixembed.runtime.torch_precision import DTYPES, convert


class TorchSession:
    """One open_clip module (already converted to ``precision``) behind the session protocol."""

    def __init__(self, module: Any, precision: str = "fp32", device: str = "cpu") -> None:
        self.module = module.eval()
        self._device = torch.device(device)
        self._dtype = DTYPES[precision]
        self._trim = can_trim(self.module)
        # One forward pass at a time: torch already spreads one pass over all intra-op threads.
        self._lock = threading.Lock()
        self._info = SessionInfo("torch", precision, str(self._device))

    @classmethod
    def converted(cls, module: Any, precision: str, device: str) -> TorchSession:
        """A session over a ``precision`` copy of the fp32 ``module``."""
        return cls(convert(module, precision), precision, device)

    @property
    def info(self) -> SessionInfo:
        """torch, the precision and the device."""
        return self._info

    def encode_images(self, pixels: Pixels) -> Vectors:
        """(N, 3, H, W) pixels -> unit vectors."""
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(pixels).to(self._device, self._dtype)
            features = self.module.encode_image(batch)
        return normalise(features.float().cpu().numpy())

    def encode_tokens(self, tokens: Tokens) -> Vectors:
        """Token ids -> unit vectors; only up to the batch's last end-of-text token where that is exact."""
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(tokens).to(self._device)
            features = (
                encode_text_trimmed(self.module, batch) if self._trim else self.module.encode_text(batch)
            )
        return normalise(features.float().cpu().numpy())
