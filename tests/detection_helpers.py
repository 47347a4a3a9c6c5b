"""Scenes with known boxes, and the IoU check, shared by the detection tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pixembed.runtime.detection.owlv2 import Owlv2Detector
from pixembed.synthetic.scenes import Scene, render_scene

KINDS = [("circle", "red"), ("square", "blue"), ("star", "yellow")]


def three_shape_scene(seed: int = 3) -> Scene:
    """A red circle, a blue square and a yellow star on a generated background."""
    return render_scene(np.random.default_rng(seed), kinds=KINDS)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def tiny_owlv2() -> Owlv2Detector:
    """A randomly initialised OWLv2 of a few hundred kB: the plumbing runs, its answers mean nothing."""
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

    config = Owlv2Config(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 16,
            "vocab_size": 99,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 64,
            "patch_size": 16,
        },
        projection_dim=32,
    )
    torch.manual_seed(0)
    processor = Owlv2ImageProcessor(size={"height": 64, "width": 64})

    def tokenize(texts: list[str]) -> dict[str, torch.Tensor]:
        ids = torch.tensor([[1 + (sum(map(ord, t)) + k) % 97 for k in range(16)] for t in texts])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    return Owlv2Detector(Owlv2ForObjectDetection(config), processor, tokenize)
