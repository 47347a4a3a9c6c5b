"""OWLv2 open-vocabulary detection through transformers (``pixembed serve --detector owlv2``).

Weights come the way CLIP weights do (runtime/weights.py): a local folder, the Hugging Face cache, or the
hub when it answers; otherwise one ``WeightsUnavailable`` within seconds that says how to supply them.
transformers is imported only here, and only when this detector is asked for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.ops import batched_nms

from pixembed.errors import WeightsUnavailable
from pixembed.runtime.detection.base import ClassQuery, RawDetection
from pixembed.runtime.weights import hub_reachable

log = logging.getLogger(__name__)

Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]
NMS_IOU = 0.3


class Owlv2Detector:
    """An ``Owlv2ForObjectDetection`` with its image processor and tokenizer."""

    name = "owlv2"
    # The threshold transformers' OWLv2 examples use; scores are per-query sigmoids, not softmaxes.
    default_threshold = 0.1

    def __init__(
        self, module: Any, image_processor: Any, tokenize: Tokenize, *, label: str = "owlv2"
    ) -> None:
        self.module = module.eval()
        self.image_processor = image_processor
        self.tokenize = tokenize
        self.label = label
        self._lock = threading.Lock()

    def detect(
        self, image: Image.Image, classes: Sequence[ClassQuery], *, threshold: float, top_k: int
    ) -> list[RawDetection]:
        """Every prompt of every class is one text query; a box takes its best query's class."""
        if not classes:
            return []
        prompts = [prompt for query in classes for prompt in query.prompts]
        owner = [index for index, query in enumerate(classes) for _ in query.prompts]
        rgb = image.convert("RGB")
        pixels = self.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
        tokens = self.tokenize(prompts)
        with self._lock, torch.inference_mode():
            outputs = self.module(pixel_values=pixels, **tokens)
        # OWLv2 pads the image to a square at the bottom and right, so boxes are relative to that square.
        side = max(rgb.size)
        result = self.image_processor.post_process_object_detection(
            outputs, threshold=threshold, target_sizes=[(side, side)]
        )[0]
        boxes, scores = result["boxes"].float(), result["scores"].float()
        labels = torch.tensor([owner[int(i)] for i in result["labels"]], dtype=torch.int64)
        keep = batched_nms(boxes, scores, labels, NMS_IOU)[:top_k]
        width, height = rgb.size
        found = []
        for i in keep.tolist():
            x1, y1, x2, y2 = boxes[i].tolist()
            box = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            found.append(RawDetection(box, int(labels[i]), float(scores[i])))
        return found


def load_owlv2(
    model_id: str,
    weights: Path | None = None,
    *,
    cache_dir: str | None = None,
    download_timeout_s: float = 20.0,
) -> Owlv2Detector:
    """Load OWLv2 from ``weights`` (a folder), the Hugging Face cache, or the hub; fail fast offline."""
    try:
        from transformers import Owlv2ForObjectDetection, Owlv2Processor
    except ImportError as exc:  # transformers is a dependency, but a trimmed install may lack it
        raise WeightsUnavailable("the owlv2 detector needs transformers: pip install transformers") from exc

    def load(source: str, local_only: bool) -> Owlv2Detector:
        processor = Owlv2Processor.from_pretrained(source, cache_dir=cache_dir, local_files_only=local_only)
        module = Owlv2ForObjectDetection.from_pretrained(
            source, cache_dir=cache_dir, local_files_only=local_only
        )
        tokenizer = processor.tokenizer

        def tokenize(texts: list[str]) -> dict[str, torch.Tensor]:
            encoded = tokenizer(texts, padding="max_length", truncation=True, return_tensors="pt")
            return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

        return Owlv2Detector(module, processor.image_processor, tokenize, label=source)

    if weights is not None:
        if not (weights.is_dir() and (weights / "config.json").is_file()):
            raise WeightsUnavailable(
                f"{weights} is not an OWLv2 folder (save_pretrained output with config.json)"
            )
        try:
            return load(str(weights), True)
        except Exception as exc:  # transformers raises OSError, ValueError or KeyError for a bad folder
            raise WeightsUnavailable(f"could not load OWLv2 from {weights}: {exc}") from exc
    try:
        return load(model_id, True)
    except OSError:
        log.info("%s is not in the Hugging Face cache", model_id)
    if not hub_reachable(min(download_timeout_s, 5.0)):
        raise WeightsUnavailable(_how_to_supply(model_id, "they are not cached and the hub is unreachable"))
    try:
        return load(model_id, False)
    except Exception as exc:  # network, auth and format errors alike mean "no weights"
        raise WeightsUnavailable(_how_to_supply(model_id, f"the download failed: {exc}")) from exc


def _how_to_supply(model_id: str, why: str) -> str:
    return (
        f"cannot load the OWLv2 detector {model_id}: {why}. Supply a folder saved with save_pretrained "
        "(PIXEMBED_DETECTOR_WEIGHTS), fill the Hugging Face cache (HF_HOME) by running once with network "
        "access, or use the default detector (--detector clip-regions), which needs no extra weights."
    )
