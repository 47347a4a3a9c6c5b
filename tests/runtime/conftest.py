"""Random full-size ViT-B/32 weights in the open_clip format for fidelity tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import torch


@pytest.fixture(scope="session")
def random_vitb32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """Random ViT-B/32 weights written as an open_clip state dict, and the reference module."""
    # Imported here so that the core install (no torch) can still run this folder's torch-free tests.
    import open_clip
    import torch

    torch.manual_seed(1234)
    reference = open_clip.create_model("ViT-B-32").eval()
    path = tmp_path_factory.mktemp("weights") / "vit-b-32-random.pt"
    torch.save(reference.state_dict(), path)
    return path, reference
