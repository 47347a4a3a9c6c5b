"""The dedup and cluster use-cases over a posted set or a stored collection, and the one-image check."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio
import numpy as np

from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.model import ClipModel
from pixembed.services.catalogue import FACTS_KEY, catalogue_from_images, source_size, stored_hash
from pixembed.services.clustering import Clustering, ClusterMethod, cluster_vectors
from pixembed.services.collections import check_model
from pixembed.services.dedup import (
    Catalogue,
    DedupMethod,
    hashes_needed,
    needs_vectors,
    resolve_thresholds,
)
from pixembed.services.embedding import embed_texts_blocking
from pixembed.services.hashing import codes_from_hex, hamming_matches, image_hashes
from pixembed.services.inputs import ImageSource, check_item_count, load_image, load_in_groups
from pixembed.services.labelling import (
    Labelled,
    centroids,
    check_label_threshold,
    majority,
    propagate,
    zero_shot,
)
from pixembed.store import VectorStore

Progress = Callable[[float], None]


@dataclass(frozen=True)
class ClusterReport:
    """Clusters plus the labels of items and clusters (None where no labelling was asked for), and the
    probability below which a name is "unknown"."""

    clustering: Clustering
    item_labels: list[Labelled | None]
    cluster_labels: list[Labelled | None]
    label_threshold: float


@dataclass(frozen=True)
class DuplicateMatch:
    """A stored item that the checked image duplicates."""

    id: str
    similarity: float | None
    distance: int | None


async def catalogue_from_sources(
    sources: Sequence[ImageSource],
    settings: Settings,
    *,
    hash_methods: Sequence[str],
    model: ClipModel | None,
) -> Catalogue:
    """Load a posted set (all or nothing: a bad image fails the request, named by index) into a catalogue."""
    check_item_count(
        len(sources),
        settings.max_dataset_items,
        "images",
        "no images given: send at least one image",
        " (PIXEMBED_MAX_DATASET_ITEMS): store them in a collection and run on it instead",
    )
    names = [source.name for source in sources]
    sizes = [source_size(source) for source in sources]
    ages = [float(i) for i in range(len(sources))]  # posted order stands for age: the first sent is "oldest"
    parts: list[tuple[list[int], Catalogue]] = []
    # A model batch at a time, within the decoded-bytes budget: only hashes and vectors are kept.
    async for group in load_in_groups(sources, settings, settings.batch_size):
        for index, failure in sorted(group.failures.items()):
            raise failure.with_context(f"image {index}")
        at = group.indices
        make = functools.partial(
            catalogue_from_images,
            group.images,
            [names[i] for i in at],
            [sizes[i] for i in at],
            [ages[i] for i in at],
            hash_methods=hash_methods,
            model=model,
            batch_size=settings.batch_size,
        )
        parts.append((at, await anyio.to_thread.run_sync(make)))
        del make
    return _joined(parts, len(sources))


def _joined(parts: Sequence[tuple[Sequence[int], Catalogue]], count: int) -> Catalogue:
    """One catalogue (ids "0", "1", ... by source position) from catalogues of some positions each."""
    at: dict[int, tuple[Catalogue, int]] = {
        i: (part, row) for indices, part in parts for row, i in enumerate(indices)
    }
    rows = [at[i] for i in range(count)]
    methods = parts[0][1].hashes.keys() if parts else ()
    vectors = None
    if parts and parts[0][1].vectors is not None:
        vectors = np.stack([part.vectors[row] for part, row in rows if part.vectors is not None])
    return Catalogue(
        ids=[str(i) for i in range(count)],
        names=[part.names[row] for part, row in rows],
        widths=[part.widths[row] for part, row in rows],
        heights=[part.heights[row] for part, row in rows],
        sizes=[part.sizes[row] for part, row in rows],
        ages=[part.ages[row] for part, row in rows],
        vectors=vectors,
        hashes={method: [part.hashes[method][row] for part, row in rows] for method in methods},
    )


def dedup_inputs(method: DedupMethod) -> tuple[list[str], bool]:
    """The hashes (its own and the one that confirms a safe drop) and whether the vectors a method needs."""
    return hashes_needed(method), needs_vectors(method)


def cluster_catalogue(
    cat: Catalogue,
    model: ClipModel,
    method: ClusterMethod,
    *,
    k: int | None = None,
    threshold: float | None = None,
    min_cluster_size: int | None = None,
    labels: Sequence[str] | None = None,
    label_threshold: float | None = None,
    known_labels: Mapping[str, str] | None = None,
    settings: Settings,
    on_progress: Progress = lambda _: None,
) -> ClusterReport:
    """Cluster a catalogue's vectors and, when asked, name items and clusters (blocking)."""
    if cat.vectors is None:
        raise InvalidRequest("clustering needs embeddings, and these items have none")
    if labels is not None and known_labels is not None:
        raise InvalidRequest("give labels (zero-shot names) or known_labels (propagation), not both")
    cutoff = check_label_threshold(label_threshold)
    label_vectors = None
    if labels is not None:
        label_vectors = embed_texts_blocking(model, labels, settings)
    known: dict[int, str] = {}
    if known_labels is not None:
        positions = {item_id: i for i, item_id in enumerate(cat.ids)}
        unknown_ids = [item_id for item_id in known_labels if item_id not in positions]
        if unknown_ids:
            raise InvalidRequest(f"known_labels names ids that are not among the items: {unknown_ids[:10]}")
        if not all(isinstance(v, str) and v for v in known_labels.values()):
            raise InvalidRequest("known_labels maps item ids to non-empty label strings")
        known = {positions[item_id]: label for item_id, label in known_labels.items()}
        if not known:
            raise InvalidRequest("known_labels is empty: give at least one item id with its label")
    clustering = cluster_vectors(cat.vectors, method, k, threshold, min_cluster_size, on_progress)
    scale = model.info.logit_scale
    item_labels: list[Labelled | None] = [None] * len(cat)
    cluster_labels: list[Labelled | None] = [None] * len(clustering.clusters)
    if labels is not None and label_vectors is not None:
        item_labels = list(zero_shot(cat.vectors, labels, label_vectors, scale, cutoff))
        if clustering.clusters:
            means = centroids(cat.vectors, [c.members for c in clustering.clusters])
            cluster_labels = list(zero_shot(means, labels, label_vectors, scale, cutoff))
    elif known:
        propagated = propagate(cat.vectors, known, scale, cutoff)
        item_labels = list(propagated)
        cluster_labels = [majority([propagated[i] for i in c.members], cutoff) for c in clustering.clusters]
    return ClusterReport(clustering, item_labels, cluster_labels, cutoff)


async def check_duplicate(
    store: VectorStore,
    model: ClipModel,
    name: str,
    source: ImageSource,
    settings: Settings,
    similarity_threshold: float | None = None,
    hash_threshold: int | None = None,
) -> list[DuplicateMatch]:
    """Stored items the image duplicates: by cosine (the store's search), and by pHash when a hash threshold
    is given (compared with the hashes stored at ingest; this reads every stored item's metadata)."""
    _, cosine = resolve_thresholds("semantic", hash_threshold, similarity_threshold)
    assert cosine is not None
    check_model(await anyio.to_thread.run_sync(store.get_collection, name), model)
    image = await load_image(source, settings)
    vector = (await model.embed_images_async([image]))[0]
    found: dict[str, DuplicateMatch] = {}
    matches = await anyio.to_thread.run_sync(store.search, name, vector, settings.duplicate_check_top_k)
    for match in matches:
        if match.score >= cosine:
            found[match.id] = DuplicateMatch(match.id, float(min(1.0, match.score)), None)
    if hash_threshold is not None:
        by_hash = await anyio.to_thread.run_sync(_hash_matches, store, name, image, hash_threshold)
        for item_id, distance in by_hash:
            similarity = found[item_id].similarity if item_id in found else None
            found[item_id] = DuplicateMatch(item_id, similarity, distance)
    return sorted(found.values(), key=lambda m: (-(m.similarity or -2.0), m.distance or 0))


def _hash_matches(store: VectorStore, name: str, image: object, bits: int) -> list[tuple[str, int]]:
    from PIL import Image

    assert isinstance(image, Image.Image)
    query = image_hashes(image, ["phash"])["phash"]
    ids, hexes = [], []
    for batch in store.scan(name, batch_size=5000):
        for record in batch:
            value = stored_hash(record.metadata.get(FACTS_KEY), "phash")
            if value is not None:
                ids.append(record.id)
                hexes.append(value)
    rows, dist = hamming_matches(codes_from_hex(hexes), codes_from_hex([query])[0], bits)
    return [(ids[int(r)], int(d)) for r, d in zip(rows, dist, strict=True)]
