"""Answers of POST /v1/embed, /v1/embed/text, /v1/compare and /v1/embed/search."""

from __future__ import annotations

import numpy as np

from pixembed.wire.base import ModelFields, WireModel
from pixembed.wire.errors import ErrorBody
from pixembed.wire.values import Float32Array


class EmbeddingItem(WireModel):
    """One item of a batch: a vector, or the error that stopped it."""

    index: int
    filename: str | None = None
    embedding: Float32Array | None = None
    error: ErrorBody | None = None


class EmbedResponse(ModelFields):
    """Vectors for the posted images; ``vector`` is the first one when there is exactly one image."""

    vector: Float32Array | None = None
    data: list[EmbeddingItem]

    @property
    def vectors(self) -> Float32Array:
        """An (n, dimensions) array; raises the first item's error if any image failed."""
        for item in self.data:
            if item.error is not None:
                raise item.error.exception()
        return np.stack([item.embedding for item in self.data if item.embedding is not None])


class TextItem(WireModel):
    """One text and its vector."""

    index: int
    text: str
    embedding: Float32Array


class TextEmbedResponse(ModelFields):
    """Vectors for the posted texts; ``vector`` is set when one string was sent."""

    vector: Float32Array | None = None
    data: list[TextItem]


class ScoredPrompt(WireModel):
    """A prompt with its cosine similarity and zero-shot probability."""

    index: int
    prompt: str
    similarity: float
    probability: float


class CompareResponse(ModelFields):
    """Similarities and probabilities in prompt order, and the prompts ranked best first."""

    logit_scale: float
    similarities: Float32Array
    probabilities: Float32Array
    ranking: list[ScoredPrompt]


class SearchHit(WireModel):
    """A dataset image ranked by similarity to the query."""

    index: int
    filename: str | None
    similarity: float


class SkippedItem(WireModel):
    """A dataset image that could not be read."""

    index: int
    filename: str | None
    error: ErrorBody


class SearchResponse(ModelFields):
    """The top-k hits, best first, and the dataset items skipped."""

    results: list[SearchHit]
    skipped: list[SkippedItem]
    searched: int
