"""``AnalysisService``: dedup and clustering of a posted set or a stored collection, and their jobs.

Built once when the server starts, with its job runner (a few worker threads, jobs recorded beside the
store), and closed when it stops. A collection run over ``dedup_background_items`` items, or asked for in
the background, is submitted as a job and answered with it (``Submitted``); smaller ones run at once on a
worker thread. What a run returns is made by the caller's ``render`` (the HTTP layer's body), so that a
job's stored result and an immediate answer are the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.analysis import (
    ClusterReport,
    Progress,
    catalogue_from_sources,
    cluster_catalogue,
    dedup_inputs,
)
from pixembed.services.catalogue import catalogue_from_store
from pixembed.services.clustering import ClusterMethod
from pixembed.services.collections import collection_model
from pixembed.services.dedup import (
    DEFAULT_METHOD,
    Catalogue,
    DedupMethod,
    DedupResult,
    KeepRule,
    find_duplicates,
)
from pixembed.services.inputs import ImageSource
from pixembed.services.jobs import Job, JobRunner
from pixembed.services.threads import in_thread
from pixembed.store import VectorStore
from pixembed.store.state import JobState

T = TypeVar("T")
RenderDedup = Callable[[Catalogue, DedupResult], T]
RenderClusters = Callable[[Catalogue, ClusterReport], T]

__all__ = ["AnalysisService", "ClusterRun", "DedupRun", "Job", "Submitted"]


@dataclass(frozen=True)
class DedupRun:
    """How to look for duplicates (checked by ``services.dedup`` when the run starts)."""

    method: DedupMethod = DEFAULT_METHOD
    hash_threshold: int | None = None
    similarity_threshold: float | None = None
    keep: KeepRule = "resolution"


@dataclass(frozen=True)
class ClusterRun:
    """How to cluster and, when labels are given, how to name the clusters."""

    method: ClusterMethod = "kmeans"
    k: int | None = None
    threshold: float | None = None
    min_cluster_size: int | None = None
    labels: Sequence[str] | None = None
    label_threshold: float | None = None
    known_labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Submitted:
    """A collection run handed to the job runner: poll the job for its progress and result."""

    job: Job


def _dedup(cat: Catalogue, run: DedupRun, progress: Progress = lambda _: None) -> DedupResult:
    return find_duplicates(cat, run.method, run.hash_threshold, run.similarity_threshold, run.keep, progress)


def _cluster(
    cat: Catalogue, model: ClipModel, run: ClusterRun, settings: Settings, progress: Progress = lambda _: None
) -> ClusterReport:
    return cluster_catalogue(
        cat,
        model,
        run.method,
        k=run.k,
        threshold=run.threshold,
        min_cluster_size=run.min_cluster_size,
        labels=run.labels,
        label_threshold=run.label_threshold,
        known_labels=run.known_labels,
        settings=settings,
        on_progress=progress,
    )


class AnalysisService:
    """Dedup and cluster runs; the long ones as jobs."""

    def __init__(self, store: VectorStore, models: ModelPool, runner: JobRunner, settings: Settings) -> None:
        self.store = store
        self.models = models
        self.runner = runner
        self.settings = settings

    @classmethod
    def open(
        cls, store: VectorStore, models: ModelPool, records: JobState, settings: Settings
    ) -> AnalysisService:
        """The service over ``store``'s collections and the served ``models``, with a job runner recording
        its jobs in ``records``."""
        runner = JobRunner(
            workers=settings.job_workers,
            records=records,
            max_queued=settings.max_queued_jobs,
            max_queued_per_owner=settings.max_queued_jobs_per_key,
        )
        return cls(store, models, runner, settings)

    def close(self) -> None:
        """Stop taking jobs (running ones finish, or are recorded as interrupted)."""
        self.runner.close()

    async def dedup_images(
        self,
        images: Sequence[ImageSource],
        run: DedupRun,
        render: RenderDedup[T],
        requested: str | None = None,
    ) -> T:
        """Duplicates among posted images (ids "0", "1"... by position), with the served model ``requested``
        (None: the default) for the methods that compare vectors."""
        hashes, vectors = dedup_inputs(run.method)
        self.models.resolve(requested)  # an unknown model is a 400 even for a method that needs no vectors
        model = await self.models.get_async(requested) if vectors else None
        cat = await catalogue_from_sources(images, self.settings, hash_methods=hashes, model=model)
        return render(cat, await in_thread(_dedup, cat, run))

    async def cluster_images(
        self,
        images: Sequence[ImageSource],
        run: ClusterRun,
        render: RenderClusters[T],
        requested: str | None = None,
    ) -> T:
        """Clusters (and names) of posted images, by the served model ``requested`` (None: the default)."""
        model = await self.models.get_async(requested)
        cat = await catalogue_from_sources(images, self.settings, hash_methods=[], model=model)
        return render(cat, await in_thread(_cluster, cat, model, run, self.settings))

    async def dedup_collection(
        self, name: str, run: DedupRun, render: RenderDedup[T], *, background: bool, owner: str
    ) -> T | Submitted:
        """Duplicates among a collection's items, now or as a job of ``owner`` (an API key's id)."""

        def work(progress: Progress) -> T:
            cat = catalogue_from_store(
                self.store, name, self.settings.max_dedup_items, lambda f: progress(0.2 * f)
            )
            return render(cat, _dedup(cat, run, lambda f: progress(0.2 + 0.8 * f)))

        return await self._run_or_submit(name, "dedup", work, background=background, owner=owner)

    async def cluster_collection(
        self,
        name: str,
        run: ClusterRun,
        render: RenderClusters[T],
        *,
        background: bool,
        owner: str,
        requested: str | None = None,
    ) -> T | Submitted:
        """Clusters of a collection's items (named by the collection's own model, which ``requested``, if
        given, must name), now or as a job of ``owner``."""
        info = await in_thread(self.store.get_collection, name)
        model = await collection_model(self.models, info, requested)

        def work(progress: Progress) -> T:
            cat = catalogue_from_store(
                self.store, name, self.settings.max_dedup_items, lambda f: progress(0.2 * f)
            )
            return render(cat, _cluster(cat, model, run, self.settings, lambda f: progress(0.2 + 0.8 * f)))

        return await self._run_or_submit(name, "cluster", work, background=background, owner=owner)

    async def _run_or_submit(
        self, name: str, kind: str, work: Callable[[Progress], T], *, background: bool, owner: str
    ) -> T | Submitted:
        info = await in_thread(self.store.get_collection, name)
        if background or info.count > self.settings.dedup_background_items:
            # Submitting writes the job's record (an fsynced commit): off the event loop too.
            return Submitted(await in_thread(self.runner.submit, kind, work, owner=owner))
        return await in_thread(work, lambda _: None)

    async def job(self, job_id: str) -> Job:
        """A job by id (kept in memory, else read from its record); ``NotFound`` once forgotten."""
        return await in_thread(self.runner.get, job_id)
