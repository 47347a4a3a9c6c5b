"""The default detector: class-agnostic proposals, each crop embedded by the loaded CLIP model.

Needs no weights beyond the CLIP model already loaded. Each proposal is cropped square with some context
around it (CLIP models, the tiny one included, saw objects filling most but not all of the frame), the
crops are embedded in batches, and each crop is scored against every class's prompt ensemble, a few
"background" prompts and a vocabulary of other things (so that an unrequested object is not given the
nearest requested class):

    score = softmax over (classes + background + vocabulary) at the model's logit scale, for the best class,
            times a ramp on the raw cosine that reaches 1 at ``cosine_floor + cosine_ramp``.

The softmax alone cannot reject an image that holds none of the classes (with one class asked for it is
always 1), hence the absolute-cosine factor; the cosine alone cannot tell two close classes apart, hence
the softmax. ``cosine_floor`` and the default threshold are calibrated per model on the generated
benchmark (benchmarks/bench_detect.py, docs/benchmarks.md). Duplicates are removed per class by NMS and by
suppressing boxes that mostly hold, or lie inside, a better box of the same class (a loose box around an
object, or a part of it).

Sliding windows are off by default: on the benchmark they multiplied the crops to embed by about five and
added false positives on parts of objects (a star's tip is a fine triangle) for no gain in recall over
the colour segments and edge contours. ``windows=True`` turns them on, at ``window_weight`` of the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.runtime.detection.base import ClassQuery, RawDetection, nms
from pixembed.runtime.detection.proposals import propose_boxes
from pixembed.runtime.detection.vocabulary import BACKGROUND_PROMPTS, EVERYDAY_THINGS
from pixembed.runtime.model import ClipModel, Vectors
from pixembed.synthetic.shapes import CLASSES, caption


@dataclass(frozen=True)
class Calibration:
    """Score constants for one model family (see the module docstring)."""

    cosine_floor: float
    cosine_ramp: float
    default_threshold: float
    vocabulary: tuple[str, ...] = tuple(f"a photo of a {thing}" for thing in EVERYDAY_THINGS)


# The tiny model's constants were chosen on benchmarks/bench_detect.py --seed 8 (threshold 0.5 -> 0.8 took
# "no box when no class is present" from 0.87 to 0.92 for a loss of 0.02 mAP; see docs/benchmarks.md).
# Every other model gets a floor in line with CLIP's usual cosine range for matching image/text pairs
# (ViT-B/32: about 0.2 to 0.35): NOT yet measured, since no full-size weights can be fetched here.
CALIBRATIONS = {
    # The tiny model knows only its 48 shape+colour captions: they are its "everyday things".
    "pixembed-tiny": Calibration(
        cosine_floor=0.45,
        cosine_ramp=0.2,
        default_threshold=0.8,
        vocabulary=tuple(caption(shape, colour) for shape, colour in CLASSES),
    ),
}
DEFAULT_CALIBRATION = Calibration(cosine_floor=0.18, cosine_ramp=0.08, default_threshold=0.5)
CONTEXT = 0.75  # the object's longer side as a share of the square crop's side
NMS_IOU = 0.5
CONTAINED = 0.7  # share of a box inside a better one of its class above which it is dropped


class ClipRegionDetector:
    """Zero-shot detection with the loaded CLIP model and OpenCV proposals."""

    name = "clip-regions"

    def __init__(
        self,
        model: ClipModel,
        *,
        max_proposals: int = 400,
        windows: bool = False,
        window_weight: float = 0.7,
        verify: bool = True,
    ) -> None:
        self.model = model
        self.verify = verify
        self.max_proposals = max_proposals
        self.windows = windows
        self.window_weight = window_weight
        self.calibration = CALIBRATIONS.get(model.info.name.split("/")[0], DEFAULT_CALIBRATION)
        self.default_threshold = self.calibration.default_threshold
        self._negatives: Vectors | None = None

    def detect(
        self, image: Image.Image, classes: Sequence[ClassQuery], *, threshold: float, top_k: int
    ) -> list[RawDetection]:
        """Propose, embed, score, suppress duplicates; best first."""
        if not classes:
            return []
        pixels = np.asarray(image.convert("RGB"))
        boxes, is_window = propose_boxes(pixels, max_boxes=self.max_proposals, windows=self.windows)
        vectors = self.model.embed_images(square_crops(pixels, boxes, self.model.info.image_size))
        labels, scores = self.score(vectors, classes)
        # A window is not bounded by any edge or colour change: a part of an object (a star's tip reads as
        # a triangle) can fill it. It needs a clearer answer from CLIP than a segment's box.
        scores = np.where(is_window, scores * self.window_weight, scores).astype(np.float32)
        keep = np.flatnonzero(scores >= threshold)
        if self.verify and len(keep):
            # The context that helps recognise an object also lets a sliver of background next to one pass
            # for it. A candidate must also hold its class when cropped to its own box.
            tight = self.model.embed_images(
                square_crops(pixels, boxes[keep], self.model.info.image_size, 1.0)
            )
            table = self.score_table(tight, classes)
            scores[keep] = np.minimum(scores[keep], table[np.arange(len(keep)), labels[keep]])
            keep = keep[scores[keep] >= threshold]
        return suppress(boxes[keep], labels[keep], scores[keep], top_k)

    def score(self, crops: Vectors, classes: Sequence[ClassQuery]) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Each crop's best class and its calibrated score."""
        table = self.score_table(crops, classes)
        labels = table.argmax(axis=1).astype(np.int64)
        return labels, table[np.arange(len(crops)), labels]

    def score_table(self, crops: Vectors, classes: Sequence[ClassQuery]) -> Vectors:
        """The calibrated score of every crop (rows) for every class (columns)."""
        prompts = self.class_vectors(classes)
        cosines = crops @ prompts.T
        negatives = self.negative_vectors()
        # A vocabulary entry that says what a requested class says would steal its probability.
        negatives = negatives[(negatives @ prompts.T).max(axis=1) < 0.9]
        logits = np.concatenate([cosines, crops @ negatives.T], axis=1)
        logits = logits.astype(np.float64) * self.model.info.logit_scale
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        ramp = np.clip((cosines - self.calibration.cosine_floor) / self.calibration.cosine_ramp, 0, 1)
        table: Vectors = (probabilities[:, : len(classes)] * ramp).astype(np.float32)
        return table

    def class_vectors(self, classes: Sequence[ClassQuery]) -> Vectors:
        """One unit vector per class: the mean of its prompts' vectors, renormalised (prompt ensembling)."""
        flat = [prompt for query in classes for prompt in query.prompts]
        vectors = self.model.embed_texts(flat)
        out = np.zeros((len(classes), vectors.shape[1]), dtype=np.float32)
        start = 0
        for index, query in enumerate(classes):
            mean = vectors[start : start + len(query.prompts)].mean(axis=0)
            out[index] = mean / max(float(np.linalg.norm(mean)), 1e-12)
            start += len(query.prompts)
        return out

    def negative_vectors(self) -> Vectors:
        """The background prompts' and the vocabulary's vectors, embedded once."""
        if self._negatives is None:
            texts = list(BACKGROUND_PROMPTS) + list(self.calibration.vocabulary)
            self._negatives = self.model.embed_texts(texts)
        return self._negatives


def square_crops(
    pixels: npt.NDArray[np.uint8], boxes: npt.NDArray[np.float32], side: int, context: float = CONTEXT
) -> list[Image.Image]:
    """Square crops centred on each box with context around it, resized to ``side`` pixels.

    Beyond the image's edge the border pixels are repeated, so that a box at the edge is not framed by
    an artificial black band that the model would read as part of the picture.
    """
    height, width = pixels.shape[:2]
    pad = max(height, width)
    padded = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crops = []
    for x1, y1, x2, y2 in boxes:
        extent = max(2, round(max(x2 - x1, y2 - y1) / context))
        left = round((x1 + x2) / 2 - extent / 2) + pad
        top = round((y1 + y2) / 2 - extent / 2) + pad
        crop = padded[top : top + extent, left : left + extent]
        resized = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        crops.append(Image.fromarray(resized))
    return crops


def suppress(
    boxes: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], scores: Vectors, top_k: int
) -> list[RawDetection]:
    """Per-class NMS, then drop boxes that mostly hold, or lie inside, a better box of their class."""
    if not len(boxes):
        return []
    found: list[RawDetection] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        kept = index[nms(boxes[index], scores[index], NMS_IOU)]
        chosen: list[int] = []
        for candidate in kept.tolist():
            if chosen:
                inter = _intersections(boxes[candidate], boxes[chosen])
                smaller = np.minimum(areas[candidate], areas[chosen])
                if float((inter / smaller).max()) > CONTAINED:
                    continue
            chosen.append(candidate)
        found += [
            RawDetection(tuple(float(v) for v in boxes[i]), int(label), float(scores[i]))  # type: ignore[arg-type]
            for i in chosen
        ]
    found.sort(key=lambda d: -d.score)
    return found[:top_k]


def _intersections(box: npt.NDArray[np.float32], others: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    low = np.maximum(box[:2], others[:, :2])
    high = np.minimum(box[2:], others[:, 2:])
    inter: npt.NDArray[np.float32] = np.clip(high - low, 0, None).prod(axis=1)
    return inter
