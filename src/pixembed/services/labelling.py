"""Auto-labels: zero-shot names from a list of texts, and propagation from a few labelled items.

Zero-shot: each vector (an item, or a cluster's normalised mean) gets the label whose text vector is most
similar; the confidence is CLIP's zero-shot probability (softmax of the cosines at the model's logit
scale). Below ``threshold`` the label is ``"unknown"`` (the confidence is still reported), so two clusters
share a name only when both pass it. The probability is over the labels given, a closed set: a picture of
none of them still gives its nearest label a probability, which is why the default threshold is high
(0.9: on the bundled model, crosses and hearts given only circle/square/triangle/star labels get 0.6-0.8;
the right label gets 0.99+). It is a setting of every call (CLI ``--label-threshold``, API
``label_threshold``, the web page's field).

Propagation: every unlabelled item takes the label of its most similar labelled item. Its confidence is
the same softmax, taken over each label's best similarity, so an item as close to a "cat" as to a "dog"
gets 0.5; below ``threshold`` it is ``"unknown"``. Items given a label keep it at confidence 1. A cluster
is named by the label most of its members carry, with the share of members carrying it as the confidence;
below ``threshold`` it is ``"unknown"`` too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest
from pixembed.services.compare import softmax_at_scale

UNKNOWN = "unknown"
DEFAULT_LABEL_THRESHOLD = 0.9
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Labelled:
    """A label and how sure it is (0..1)."""

    label: str
    confidence: float


def check_label_threshold(threshold: float | None) -> float:
    """The threshold, default filled in, refusing values outside 0..1."""
    if threshold is None:
        return DEFAULT_LABEL_THRESHOLD
    if not 0.0 <= threshold <= 1.0:
        raise InvalidRequest(f"label_threshold is a probability between 0 and 1, got {threshold}")
    return threshold


def zero_shot(
    vectors: Vectors, labels: Sequence[str], label_vectors: Vectors, logit_scale: float, threshold: float
) -> list[Labelled]:
    """The best label of each row of ``vectors``, or ``"unknown"`` when its probability is below threshold."""
    named = []
    for similarities in vectors @ label_vectors.T:
        probabilities = softmax_at_scale(similarities, logit_scale)
        best = int(np.argmax(probabilities))
        confidence = float(probabilities[best])
        named.append(Labelled(labels[best] if confidence >= threshold else UNKNOWN, confidence))
    return named


def centroids(vectors: Vectors, groups: Sequence[Sequence[int]]) -> Vectors:
    """The normalised mean of each group's vectors."""
    means = np.stack([vectors[list(members)].mean(axis=0) for members in groups]).astype(np.float32)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    unit: Vectors = means / np.where(norms > 0, norms, 1.0)
    return unit


def propagate(
    vectors: Vectors, known: Mapping[int, str], logit_scale: float, threshold: float = 0.0
) -> list[Labelled]:
    """A label for every item from the few in ``known`` (index -> label), by nearest labelled item."""
    if not known:
        raise InvalidRequest("known_labels is empty: give at least one item id with its label")
    names = sorted(set(known.values()))
    labelled = sorted(known)
    similarities = vectors @ vectors[labelled].T  # (n items, n labelled)
    per_label = np.full((len(vectors), len(names)), -np.inf, dtype=np.float32)
    for column, index in enumerate(labelled):
        slot = names.index(known[index])
        per_label[:, slot] = np.maximum(per_label[:, slot], similarities[:, column])
    result = []
    for index, scores in enumerate(per_label):
        if index in known:
            result.append(Labelled(known[index], 1.0))
            continue
        probabilities = softmax_at_scale(scores, logit_scale)
        best = int(np.argmax(probabilities))
        confidence = float(probabilities[best])
        result.append(Labelled(names[best] if confidence >= threshold else UNKNOWN, confidence))
    return result


def majority(labels: Sequence[Labelled], threshold: float = 0.0) -> Labelled:
    """The label most members carry, with the share that carry it; ``"unknown"`` below ``threshold``."""
    counts = Counter(item.label for item in labels)
    label, count = max(counts.items(), key=lambda pair: (pair[1], pair[0] != UNKNOWN))
    share = count / len(labels)
    return Labelled(label if share >= threshold else UNKNOWN, share)
