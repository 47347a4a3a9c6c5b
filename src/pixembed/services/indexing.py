"""Index a folder of images into a collection: resumable by content hash, bad files skipped and reported."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.runtime.model import ClipModel
from pixembed.services.catalogue import FACTS_KEY, with_facts
from pixembed.services.collections import check_model
from pixembed.services.embedding import embed_image_sources
from pixembed.services.inputs import ImageSource
from pixembed.services.thumbnails import save_thumbnails
from pixembed.store import Record, VectorStore
from pixembed.store.thumbnails import ThumbnailStore

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)


@dataclass
class IndexReport:
    """What an indexing run did: files written, skipped as already indexed, and failures by path."""

    indexed: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> int:
        """Files accounted for, whatever happened to them."""
        return self.indexed + self.unchanged + len(self.failed)


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively, by suffix, in a stable order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
    return found


def is_indexed(stored: dict[str, Any] | None, sha256: str) -> bool:
    """True when an item's stored metadata shows this very file indexed, image facts included.

    Items indexed before the facts were stored are done again once, so hash dedup can see them.
    """
    return stored is not None and stored.get("sha256") == sha256 and FACTS_KEY in stored


def _batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


@dataclass(frozen=True)
class IndexJob:
    """What an indexing run writes, whichever engine runs it: the files ``paths`` under ``folder``, stored
    in collection ``name`` of ``store`` under ids relative to ``folder``, embedded by ``model`` (with
    ``settings``); with a ``thumbnails`` store, each indexed file also gets a small thumbnail."""

    store: VectorStore
    model: ClipModel
    name: str
    folder: Path
    paths: list[Path]
    settings: Settings
    thumbnails: ThumbnailStore | None = None

    def check_collection(self) -> None:
        """Refuse a collection that does not exist or holds another model's vectors."""
        check_model(self.store.get_collection(self.name), self.model)


async def index_paths(
    job: IndexJob, on_progress: Callable[[IndexReport], None] = lambda _: None
) -> IndexReport:
    """Embed and store the job's files, skipping files whose hash is stored."""
    job.check_collection()
    report = IndexReport()
    for batch in _batches(job.paths, job.settings.batch_size):
        ids = [p.relative_to(job.folder).as_posix() for p in batch]
        contents: dict[str, bytes] = {}
        for item_id, path in zip(ids, batch, strict=True):
            try:
                contents[item_id] = await anyio.Path(path).read_bytes()
            except OSError as exc:
                report.failed[item_id] = f"cannot read: {exc.strerror}"
        hashes = {item_id: hashlib.sha256(data).hexdigest() for item_id, data in contents.items()}
        known = job.store.existing(job.name, list(hashes))
        todo = [i for i in hashes if not is_indexed(known.get(i), hashes[i])]
        report.unchanged += len(hashes) - len(todo)
        sources = [ImageSource("bytes", contents[i], i) for i in todo]
        keep = job.thumbnails is not None
        results = (
            await embed_image_sources(job.model, sources, job.settings, with_facts=True, keep_images=keep)
            if sources
            else []
        )
        records = []
        for item_id, result in zip(todo, results, strict=True):
            if result.vector is None:
                assert isinstance(result.error, PixembedError)
                report.failed[item_id] = result.error.message
                continue
            # Size and perceptual hashes too, so hash-based dedup of the collection sees indexed files.
            metadata = with_facts({"path": item_id, "sha256": hashes[item_id]}, result.facts)
            records.append(Record(item_id, result.vector, metadata))
        if records:
            await anyio.to_thread.run_sync(job.store.upsert, job.name, records)
            decoded = {
                i: (r.image, r.vector)
                for i, r in zip(todo, results, strict=True)
                if r.image is not None and r.vector is not None
            }
            await save_thumbnails(job.thumbnails, job.name, decoded, items=job.store)
        report.indexed += len(records)
        on_progress(report)
    return report
