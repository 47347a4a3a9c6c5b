"""Random full-size ViT-B/32 weights in the open_clip format for fidelity tests."""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import torch


@pytest.fixture(scope="session")
def random_vitb32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """Random ViT-B/32 weights written as an open_clip state dict, and the reference module."""
    torch.manual_seed(1234)
    reference = open_clip.create_model("ViT-B-32").eval()
    path = tmp_path_factory.mktemp("weights") / "vit-b-32-random.pt"
    torch.save(reference.state_dict(), path)
    return path, reference
