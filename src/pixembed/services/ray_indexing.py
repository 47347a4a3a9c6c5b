"""Index a folder through a Ray Data pipeline: decoding and embedding run in Ray actors, writes stay here.

Same ids, metadata and resume rule as ``index_paths``, so either path skips what the other indexed. Ray is
imported only when this runs; pixembed works without it (``pip install 'pixembed[ray]'``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PixembedError
from pixembed.imaging import decode_image
from pixembed.imaging.thumbnail import THUMBNAIL_MEDIA_TYPE, make_thumbnail
from pixembed.services.catalogue import image_facts, with_facts
from pixembed.services.indexing import IndexJob, IndexReport, is_indexed
from pixembed.store import Record, VectorStore
from pixembed.store.thumbnails import ThumbnailStore

Batch = dict[str, npt.NDArray[Any]]
# Only ids, paths and vectors pass through the object store, never image bytes.
_LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024
# Torch threads per actor (Ray sets OMP_NUM_THREADS from an actor's CPUs): fewer, wider actors hold fewer
# copies of the model than one single-threaded actor per core.
_CPUS_PER_ACTOR = 2


class EmbedFiles:
    """A Ray Data callable class: loads the model once per actor, then reads, decodes and embeds batches.

    Files are read here rather than on the driver so that bytes never travel through the object store;
    on a remote cluster the folder must therefore be mounted at the same path on every node.
    """

    def __init__(self, settings: Settings) -> None:
        from pixembed.runtime.loading import load_model_from_settings

        self.settings = settings
        self.model = load_model_from_settings(settings)

    def __call__(self, batch: Batch) -> Batch:
        """Vectors for the batch's files; a file that fails gets a zero row and its error text."""
        count = len(batch["id"])
        hashes = [""] * count
        errors = [""] * count
        sizes = [0] * count
        good: list[int] = []
        images: list[Image.Image] = []
        for row, path in enumerate(batch["path"]):
            try:
                data = Path(str(path)).read_bytes()
            except OSError as exc:
                errors[row] = f"cannot read: {exc.strerror}"
                continue
            # Hash what is embedded, not what the driver saw, so a file edited mid-run is stored truthfully.
            hashes[row] = hashlib.sha256(data).hexdigest()
            sizes[row] = len(data)
            try:
                images.append(decode_image(data, max_pixels=self.settings.max_image_pixels))
            except PixembedError as exc:
                errors[row] = exc.message
                continue
            good.append(row)
        vectors = np.zeros((count, self.model.info.dimensions), dtype=np.float32)
        thumbnails = np.full(count, b"", dtype=object)
        facts = np.full(count, "", dtype=object)
        if images:
            vectors[good] = self.model.embed_images(images)
            # Made here, from the image already decoded, so only a few KB per file reach the driver.
            for row, image in zip(good, images, strict=True):
                thumbnails[row] = make_thumbnail(image)
                facts[row] = json.dumps(image_facts(image, sizes[row]))
        return {
            "id": batch["id"],
            "sha256": np.array(hashes, dtype=object),
            "vector": vectors,
            "error": np.array(errors, dtype=object),
            "thumbnail": thumbnails,
            "facts": facts,
        }


def import_ray() -> ModuleType:
    """The ``ray`` module, or an ``InvalidRequest`` that says how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise InvalidRequest(
            "--ray needs Ray Data, which is not installed: pip install 'pixembed[ray]'"
        ) from exc
    return ray


def _hash_files(folder: Path, paths: list[Path], report: IndexReport) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for path in paths:
        item_id = path.relative_to(folder).as_posix()
        try:
            hashes[item_id] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            report.failed[item_id] = f"cannot read: {exc.strerror}"
    return hashes


def _new_items(
    store: VectorStore, name: str, folder: Path, hashes: dict[str, str], size: int
) -> Iterator[dict[str, str]]:
    # Absolute, so that actors on other nodes (with the folder mounted at the same path) find the files.
    root = folder.resolve()
    ids = list(hashes)
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        known = store.existing(name, chunk)
        for item_id in chunk:
            if not is_indexed(known.get(item_id), hashes[item_id]):
                yield {"id": item_id, "path": str(root / item_id)}


def _start_ray(ray: ModuleType, address: str | None) -> bool:
    """Connect to ``address``, or start a small local Ray; True when this call started or connected it."""
    if ray.is_initialized():
        return False
    # No dashboard: a local Ray must start on a CI runner with no network. Errors only: Ray's notices on
    # stderr would tear through the CLI's progress bar, and failures still reach the driver as exceptions.
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        ray.init(include_dashboard=False, object_store_memory=_LOCAL_OBJECT_STORE_BYTES, **quiet)
    else:
        ray.init(address=address, **quiet)
    return True


def index_paths_with_ray(
    job: IndexJob, on_progress: Callable[[IndexReport], None] = lambda _: None, address: str | None = None
) -> IndexReport:
    """Like ``index_paths``, with decoding and embedding in a Ray Data actor pool.

    The job's ``model`` only checks that the collection holds this model's vectors; each actor loads its
    own copy from the job's ``settings``. ``address`` names a running Ray cluster; without one a local Ray
    is started, and whatever this call started it also shuts down.
    """
    job.check_collection()
    ray = import_ray()
    report = IndexReport()
    hashes = _hash_files(job.folder, job.paths, report)
    items = list(_new_items(job.store, job.name, job.folder, hashes, job.settings.batch_size))
    report.unchanged = len(hashes) - len(items)
    on_progress(report)
    if not items:
        return report
    started = _start_ray(ray, address)
    try:
        context = ray.data.DataContext.get_current()
        # The CLI draws its own progress bar on the same terminal.
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        per_actor = min(_CPUS_PER_ACTOR, cpus)
        results = ray.data.from_items(items).map_batches(
            EmbedFiles,
            fn_constructor_kwargs={"settings": job.settings},
            batch_size=job.settings.batch_size,
            batch_format="numpy",
            num_cpus=per_actor,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, cpus // per_actor)),
        )
        with _quiet_logger("ray.data"):
            for batch in results.iter_batches(batch_size=job.settings.batch_size, batch_format="numpy"):
                _store_batch(job.store, job.name, batch, report, job.thumbnails)
                on_progress(report)
    finally:
        if started:
            ray.shutdown()
    return report


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Only errors from logger ``name`` while inside; Ray Data logs progress notes to the console."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _store_batch(
    store: VectorStore, name: str, batch: Batch, report: IndexReport, thumbnails: ThumbnailStore | None
) -> None:
    records = []
    pictures: list[tuple[str, bytes, npt.NDArray[np.float32]]] = []
    for raw_id, sha256, vector, error, thumbnail, facts in zip(
        batch["id"],
        batch["sha256"],
        batch["vector"],
        batch["error"],
        batch["thumbnail"],
        batch["facts"],
        strict=True,
    ):
        item_id = str(raw_id)
        if error:
            report.failed[item_id] = str(error)
            continue
        metadata = with_facts({"path": item_id, "sha256": str(sha256)}, json.loads(str(facts)))
        records.append(Record(item_id, np.asarray(vector, dtype=np.float32), metadata))
        pictures.append((item_id, bytes(thumbnail), records[-1].vector))
    if records:
        store.upsert(name, records)
        if thumbnails is not None:
            thumbnails.put_many(name, pictures, THUMBNAIL_MEDIA_TYPE)
    report.indexed += len(records)
