"""Stateless top-k search: a query (image or text) over a posted dataset of images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PixembedError, TooManyItems
from pixembed.runtime.model import ClipModel
from pixembed.services.compare import embed_subject
from pixembed.services.embedding import embed_image_sources
from pixembed.services.inputs import ImageSource


@dataclass(frozen=True)
class Hit:
    """A dataset item ranked by its cosine similarity to the query."""

    index: int
    filename: str | None
    similarity: float


@dataclass(frozen=True)
class Skipped:
    """A dataset item that could not be loaded, and why."""

    index: int
    filename: str | None
    error: PixembedError


@dataclass(frozen=True)
class SearchResult:
    """The ranked hits and the dataset items left out."""

    hits: list[Hit]
    skipped: list[Skipped]
    searched: int


async def search_dataset(
    model: ClipModel,
    query: str | ImageSource,
    dataset: Sequence[ImageSource],
    top_k: int,
    settings: Settings,
) -> SearchResult:
    """Rank the dataset by cosine similarity to the query and keep the best ``top_k``."""
    if not dataset:
        raise InvalidRequest("the dataset is empty: send at least one image to search")
    if len(dataset) > settings.max_dataset_items:
        raise TooManyItems(
            f"{len(dataset)} dataset images; one search takes at most {settings.max_dataset_items}"
        )
    if top_k < 1:
        raise InvalidRequest(f"top_k must be at least 1, got {top_k}")
    query_vector = (await embed_subject(model, query, settings))[0]
    scores: list[tuple[int, float]] = []
    skipped: list[Skipped] = []
    # Embedded a model batch at a time (and within the decoded-bytes budget, in turns: see
    # embed_image_sources), so that 10,000 decoded images never sit in memory at once.
    step = min(model.batch_size, settings.max_batch_items)
    for start in range(0, len(dataset), step):
        for result in await embed_image_sources(model, dataset[start : start + step], settings):
            if result.vector is None:
                assert result.error is not None
                skipped.append(Skipped(start + result.index, result.name, result.error))
            else:
                scores.append((start + result.index, float(result.vector @ query_vector)))
    order = sorted(scores, key=lambda pair: (-pair[1], pair[0]))[:top_k]
    hits = [Hit(index, dataset[index].name, float(np.float32(sim))) for index, sim in order]
    return SearchResult(hits, skipped, len(scores))
