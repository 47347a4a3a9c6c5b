"""A collection's trained inverted file, saved beside the store so that opening it does not train it again.

Opening a collection of a million vectors spent most of its time on k-means and on assigning every vector
to a list (docs/benchmarks.md). The file is a cache, never the record: SQLite holds every vector. It is
written when the store closes, atomically (a temporary file, then a rename), and used only while it still
describes the stored rows: the rowids in its lists must be exactly the stored rows with a rowid up to the
saved ``max_seq`` (rowids are never reused, AUTOINCREMENT, so a row replaced since has a new one). Rows
added after the save are coded on top of it; anything else (a deletion since, a damaged file, an older
format) and the index is trained again from the rows.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

faiss: Any = importlib.import_module("faiss")
log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class FittedIvf:
    """Everything ``CollectionIndex`` fitted for its inverted file, and which rows it was fitted over."""

    ivf: Any
    scale: npt.NDArray[np.float32]
    error_limit: float
    decoded_norm_max: float
    fitted_count: int
    outliers: npt.NDArray[np.int64]
    max_seq: int
    count: int


def save(path: Path, fitted: FittedIvf) -> None:
    """Write ``fitted`` to ``path`` atomically: readers see the old file or the new one, never half.

    A cache that cannot be written (a read-only or full disk) is logged and skipped: the next open trains.
    """
    try:
        _write(path, fitted)
    except OSError as exc:
        log.warning("could not save the trained index %s (%s); the next open will train it again", path, exc)


def _write(path: Path, fitted: FittedIvf) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "error_limit": fitted.error_limit,
        "decoded_norm_max": fitted.decoded_norm_max,
        "fitted_count": fitted.fitted_count,
        "max_seq": fitted.max_seq,
        "count": fitted.count,
    }
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as file:
            np.savez(
                file,
                meta=np.array(json.dumps(meta)),
                ivf=faiss.serialize_index(fitted.ivf),
                scale=fitted.scale,
                outliers=fitted.outliers,
            )
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)  # left only when writing failed


def load(path: Path) -> FittedIvf | None:
    """The saved inverted file at ``path``; None when there is none or it cannot be read."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            if meta.get("format") != FORMAT:
                return None
            return FittedIvf(
                ivf=faiss.deserialize_index(saved["ivf"]),
                scale=saved["scale"].astype(np.float32),
                error_limit=float(meta["error_limit"]),
                decoded_norm_max=float(meta["decoded_norm_max"]),
                fitted_count=int(meta["fitted_count"]),
                outliers=saved["outliers"].astype(np.int64),
                max_seq=int(meta["max_seq"]),
                count=int(meta["count"]),
            )
    except (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        log.warning("ignoring the saved index %s (%s); it will be trained again", path, exc)
        return None


def ivf_ids(ivf: Any) -> npt.NDArray[np.int64]:
    """Every rowid held in the lists of ``ivf``, sorted."""
    invlists = ivf.invlists
    parts = [np.zeros(0, np.int64)]
    for list_no in range(int(ivf.nlist)):
        size = int(invlists.list_size(list_no))
        if size:
            ids = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ids, size).astype(np.int64))  # a copy
            invlists.release_ids(list_no, ids)
    return np.sort(np.concatenate(parts))


def remove(path: Path) -> None:
    """Forget a saved inverted file (a deleted collection's)."""
    path.unlink(missing_ok=True)
