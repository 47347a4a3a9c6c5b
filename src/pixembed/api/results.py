"""Service results as the wire models of ``pixembed.wire``: one mapping per route group.

Routes return what these build; the models are the routes' ``response_model``s, so /openapi.json describes
each answer, and the client parses answers with the same models. Where a service's dataclass already carries
the wire names, the model reads it by attribute (``model_validate``); the rest is mapped here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixembed.runtime.model import ClipModel, ModelInfo, Vectors
from pixembed.runtime.pool import PooledModel
from pixembed.runtime.registry import known_models
from pixembed.services.analysis import ClusterReport, DuplicateMatch
from pixembed.services.collection_service import CollectionInfo, Match
from pixembed.services.collections import AddedItem
from pixembed.services.compare import Comparison
from pixembed.services.dedup import GROUP_RULE, SAFE_RULE, Catalogue, DedupResult, Group
from pixembed.services.detection import DetectionResult
from pixembed.services.embedding import ItemResult
from pixembed.services.jobs import Job
from pixembed.services.regions import Region
from pixembed.services.search import SearchResult
from pixembed.wire import (
    AddedOut,
    AddItemsOut,
    ClusteringOut,
    ClusterItemOut,
    ClusterOut,
    CompareResponse,
    CopyOut,
    DedupItemOut,
    DedupOut,
    DetectionOut,
    DetectResponse,
    DuplicateCheckOut,
    DuplicateMatchOut,
    EmbeddingItem,
    EmbedResponse,
    ErrorBody,
    GroupOut,
    JobAccepted,
    JobOut,
    LoadedModel,
    MatchOut,
    ModelEntry,
    ModelsResponse,
    PairOut,
    RegionOut,
    RegionsResponse,
    RelevanceOut,
    ScoredPrompt,
    SearchCollectionOut,
    SearchHit,
    SearchResponse,
    ServedModelOut,
    SkippedItem,
    TagOut,
    TextEmbedResponse,
    TextItem,
)

# -- embed, compare, search (routes/embed.py, compare.py, search.py) -------------------------------------


def embed_answer(info: ModelInfo, results: Sequence[ItemResult]) -> EmbedResponse:
    """Each image's vector or error; ``vector`` too when one image was sent."""
    items = [
        EmbeddingItem(
            index=r.index,
            filename=r.name,
            embedding=r.vector,
            error=ErrorBody.of(r.error) if r.error is not None else None,
        )
        for r in results
    ]
    vector = items[0].embedding if len(items) == 1 else None
    return EmbedResponse(model=info.name, dimensions=info.dimensions, vector=vector, data=items)


def text_answer(
    info: ModelInfo, texts: Sequence[str], vectors: Vectors, *, single: bool
) -> TextEmbedResponse:
    """Each text's vector; ``vector`` too when one string (not a list) was sent."""
    pairs = zip(texts, vectors, strict=True)
    items = [TextItem(index=i, text=t, embedding=v) for i, (t, v) in enumerate(pairs)]
    vector = items[0].embedding if single else None
    return TextEmbedResponse(model=info.name, dimensions=info.dimensions, vector=vector, data=items)


def compare_answer(info: ModelInfo, labels: Sequence[str], result: Comparison) -> CompareResponse:
    """Scores in prompt order (each prompt shown as ``labels[i]``), and the prompts ranked best first."""
    scored = zip(result.similarities, result.probabilities, strict=True)
    ranking = sorted(
        (
            ScoredPrompt(index=i, prompt=labels[i], similarity=s, probability=p)
            for i, (s, p) in enumerate(scored)
        ),
        key=lambda item: -item.similarity,
    )
    return CompareResponse(
        model=info.name,
        dimensions=info.dimensions,
        logit_scale=result.logit_scale,
        similarities=np.asarray(result.similarities, dtype=np.float32),
        probabilities=np.asarray(result.probabilities, dtype=np.float32),
        ranking=ranking,
    )


def search_answer(info: ModelInfo, result: SearchResult) -> SearchResponse:
    """The hits best first, the images skipped, and how many were searched."""
    return SearchResponse(
        model=info.name,
        dimensions=info.dimensions,
        results=[SearchHit.model_validate(hit) for hit in result.hits],
        skipped=[SkippedItem.model_validate(skipped) for skipped in result.skipped],
        searched=result.searched,
    )


# -- collections (routes/collections.py) -------------------------------------------------------------------


def added_answer(info: CollectionInfo, results: Sequence[AddedItem]) -> AddItemsOut:
    """How many items were written, and each one's id (and region ids) or error."""
    data = [
        AddedOut(
            index=r.index,
            id=r.id,
            error=ErrorBody.of(r.error) if r.error is not None else None,
            regions=list(r.region_ids) if r.region_ids else None,
        )
        for r in results
    ]
    written = sum(r.error is None for r in results)
    return AddItemsOut(
        collection=info.name, model=info.model, dimensions=info.dimensions, written=written, data=data
    )


def matches_answer(info: CollectionInfo, matches: Sequence[Match]) -> SearchCollectionOut:
    """A collection search's hits, best first."""
    return SearchCollectionOut(
        collection=info.name,
        model=info.model,
        dimensions=info.dimensions,
        results=[MatchOut.model_validate(match) for match in matches],
    )


# -- detection (routes/detect.py) --------------------------------------------------------------------------


def detect_answer(result: DetectionResult) -> DetectResponse:
    """The detections, best first, and the annotated image when one was drawn."""
    return DetectResponse(
        width=result.width,
        height=result.height,
        detector=result.detector,
        detections=[DetectionOut.model_validate(d) for d in result.detections],
        image=result.annotated_png,
    )


def regions_answer(info: ModelInfo, regions: Sequence[Region], texts: Sequence[str]) -> RegionsResponse:
    """Each region's box and vector, its three best tags, and its similarity with each text."""
    return RegionsResponse(
        model=info.name,
        dimensions=info.dimensions,
        regions=[
            RegionOut(
                box=list(r.box),
                vector=r.vector,
                tags=[TagOut(label=t.label.name, score=t.score) for t in r.ranked_tags[:3]],
                relevance=[RelevanceOut(text=t, score=s) for t, s in zip(texts, r.text_scores, strict=True)],
            )
            for r in regions
        ],
    )


# -- system (routes/system.py) ------------------------------------------------------------------------------


def served_model_answer(pooled: PooledModel) -> ServedModelOut:
    """One served model: its names, whether it is in memory, and what its last load told (if it has)."""
    info = pooled.info
    return ServedModelOut(
        name=pooled.name,
        aliases=list(pooled.aliases),
        default=pooled.default,
        loaded=pooled.loaded,
        load="lazy" if pooled.load == "lazy" else "start",
        dimensions=info.dimensions if info is not None else None,
        text_tower=pooled.text_tower,
        runtime=info.runtime if info is not None else pooled.options.runtime,
        precision=info.precision if info is not None else pooled.options.precision,
        memory_mb=round(pooled.size_bytes / 2**20, 1) if pooled.size_bytes is not None else None,
        error=pooled.error,
    )


def models_answer(model: ClipModel | None, served: Sequence[PooledModel]) -> ModelsResponse:
    """The default model (None until it has loaded), every served model, and every model/pretrained pair
    the server can start with (``loaded`` when one of the served models holds it in memory)."""
    info = model.info if model is not None else None
    loaded = None
    if info is not None:
        loaded = LoadedModel(
            model=info.name,
            dimensions=info.dimensions,
            runtime=info.runtime,
            precision=info.precision,
            min_cosine=info.min_cosine,
            device=info.device,
            text_tower=info.text_tower,
        )
    in_memory = {p.info.name for p in served if p.loaded and p.info is not None}
    entries = [
        ModelEntry(
            id=known.id,
            model=known.model,
            pretrained=known.pretrained,
            loaded=known.id in in_memory,
            text_tower=known.text_tower,
            description=known.description,
        )
        for known in known_models()
    ]
    return ModelsResponse(loaded=loaded, served=[served_model_answer(p) for p in served], data=entries)


# -- dedup, cluster, duplicate check and jobs (routes/dedup.py; the CLI's --json and reports) ---------------


def _round(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(float(value), places)


def dedup_answer(cat: Catalogue, result: DedupResult) -> DedupOut:
    """Items, pairs, groups and drop list by item id."""
    ids = cat.ids
    return DedupOut(
        method=result.method,
        hash_threshold=result.hash_threshold,
        similarity_threshold=result.similarity_threshold,
        items=[
            DedupItemOut(
                id=ids[i], name=cat.names[i], width=cat.widths[i], height=cat.heights[i], bytes=cat.sizes[i]
            )
            for i in range(len(cat))
        ],
        pairs=[
            PairOut(a=ids[p.a], b=ids[p.b], distance=p.distance, similarity=_round(p.similarity))
            for p in result.pairs
        ],
        groups=[_group(ids, g) for g in result.groups],
        drop=[ids[i] for i in result.drop],
        borderline=[ids[i] for i in result.borderline],
        group_rule=GROUP_RULE,
        safe_rule=SAFE_RULE,
    )


def _group(ids: list[str], group: Group) -> GroupOut:
    """A group: members, keeper, safe drops, borderline copies, and each copy's evidence."""
    return GroupOut(
        members=[ids[i] for i in group.members],
        keep=ids[group.keep],
        drop=[ids[i] for i in group.drop],
        borderline=[ids[i] for i in group.borderline],
        copies=[
            CopyOut(
                id=ids[c.index],
                distance=c.distance,
                similarity=_round(c.similarity),
                safe=c.safe,
                reason=c.reason,
            )
            for c in group.copies
        ],
    )


def clustering_answer(cat: Catalogue, report: ClusterReport, method: str) -> ClusteringOut:
    """Clusters, noise and per-item cluster, label and map position by item id."""
    ids = cat.ids
    clustering = report.clustering
    clusters = [
        ClusterOut(
            id=cluster.id,
            members=[ids[i] for i in cluster.members],
            medoid=ids[cluster.medoid],
            cohesion=round(cluster.cohesion, 6),
            label=named.label if named else None,
            label_confidence=_round(named.confidence) if named else None,
        )
        for cluster, named in zip(clustering.clusters, report.cluster_labels, strict=True)
    ]
    items = []
    for i, item_id in enumerate(ids):
        named = report.item_labels[i]
        label = int(clustering.labels[i])
        items.append(
            ClusterItemOut(
                id=item_id,
                name=cat.names[i],
                cluster=label if label >= 0 else None,
                label=named.label if named else None,
                label_confidence=_round(named.confidence) if named else None,
                x=round(float(clustering.coords[i][0]), 6),
                y=round(float(clustering.coords[i][1]), 6),
            )
        )
    return ClusteringOut(
        method=method,
        k=clustering.k,
        silhouette_by_k={str(k): round(v, 6) for k, v in clustering.silhouette_by_k.items()},
        label_threshold=report.label_threshold,
        clusters=clusters,
        noise=[ids[i] for i in clustering.noise],
        items=items,
    )


def duplicates_answer(matches: Sequence[DuplicateMatch]) -> DuplicateCheckOut:
    """Whether the image duplicates a stored item, and which ones."""
    return DuplicateCheckOut(
        is_duplicate=bool(matches), matches=[DuplicateMatchOut.model_validate(m) for m in matches]
    )


def accepted_answer(job: Job) -> JobAccepted:
    """202: where to poll a job just submitted."""
    return JobAccepted(job_id=job.id, status_url=f"/v1/jobs/{job.id}")


def job_answer(job: Job) -> JobOut:
    """A job's status and progress (0..1), and its result or error once finished."""
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=round(job.progress, 4),
        result=job.result if job.status == "done" else None,
        error=ErrorBody.of(job.error) if job.error is not None else None,
    )
