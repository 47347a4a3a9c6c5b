"""A large collection's trained inverted file is saved at close and reused when the store opens, but only
while it still describes the stored rows; otherwise it is trained again. Answers are the same either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixembed.store import Record
from pixembed.store.embedded import IVF_FOLDER, EmbeddedStore
from pixembed.store.index import CollectionIndex
from tests.store.vectors import clustered

D = 16


def _points(n: int, seed: int) -> np.ndarray:
    """Unit points around 40 shared centres."""
    return clustered(n, D, seed, centres=40, spread=0.4)


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many vectors each IVF training was given."""
    seen: list[int] = []
    train = CollectionIndex._trained_ivf

    def counted(self: CollectionIndex, vectors: np.ndarray) -> object:
        seen.append(len(vectors))
        return train(self, vectors)

    monkeypatch.setattr(CollectionIndex, "_trained_ivf", counted)
    return seen


def _filled(path: Path, vectors: np.ndarray) -> EmbeddedStore:
    store = EmbeddedStore(path, exact_max=500)
    store.create_collection("big", "m", D)
    store.upsert("big", [Record(str(i), v) for i, v in enumerate(vectors)])
    return store


def _answers(store: EmbeddedStore, queries: np.ndarray) -> list[list[str]]:
    return [[m.id for m in store.search("big", q, 10)] for q in queries]


def test_reopening_reuses_the_saved_file_and_answers_the_same(tmp_path: Path, trainings: list[int]) -> None:
    vectors, queries = _points(3000, 1), _points(20, 2)
    store = _filled(tmp_path, vectors)
    before = _answers(store, queries)
    store.close()
    assert (tmp_path / IVF_FOLDER / "big.npz").exists()
    trained = len(trainings)
    reopened = EmbeddedStore(tmp_path, exact_max=500)
    assert reopened._indexes["big"].approximate and len(trainings) == trained  # not trained again
    assert _answers(reopened, queries) == before
    # Rows added since the save are coded on top of it, and found.
    extra = _points(200, 3)
    reopened.upsert("big", [Record(f"new{i}", v) for i, v in enumerate(extra)])
    reopened.close()
    again = EmbeddedStore(tmp_path, exact_max=500)
    assert len(trainings) == trained
    assert again.search("big", extra[7], 1)[0].id == "new7"
    assert again.get_collection("big").count == 3200
    again.close()


def test_a_deletion_the_file_does_not_know_means_training_again(tmp_path: Path, trainings: list[int]) -> None:
    vectors = _points(3000, 4)
    _filled(tmp_path, vectors).close()
    crashed = EmbeddedStore(tmp_path, exact_max=500)
    crashed.delete("big", [str(i) for i in range(0, 3000, 3)])  # then never closed: the file is stale
    trained = len(trainings)
    reopened = EmbeddedStore(tmp_path, exact_max=500)
    assert len(trainings) == trained + 1
    found = {m.id for q in vectors[:30] for m in reopened.search("big", q, 10)}
    assert found and not {str(i) for i in range(0, 3000, 3)} & found


@pytest.mark.parametrize("damage", ["not a zip", "truncated", "garbage index"])
def test_a_damaged_file_is_ignored_with_a_warning(
    tmp_path: Path, trainings: list[int], caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    vectors, queries = _points(3000, 5), _points(20, 6)
    store = _filled(tmp_path, vectors)
    before = _answers(store, queries)
    store.close()
    path = tmp_path / IVF_FOLDER / "big.npz"
    if damage == "not a zip":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        with np.load(path) as saved:
            arrays = {key: saved[key] for key in saved.files}
        arrays["ivf"] = np.frombuffer(b"\x00" * 64, dtype=np.uint8)
        with path.open("wb") as file:
            np.savez(file, **arrays)
    trained = len(trainings)
    reopened = EmbeddedStore(tmp_path, exact_max=500)
    assert len(trainings) == trained + 1
    assert "ignoring the saved index" in caplog.text
    assert _answers(reopened, queries) == before


def test_deleting_the_collection_deletes_its_file(tmp_path: Path) -> None:
    store = _filled(tmp_path, _points(1000, 7))
    store.close()
    reopened = EmbeddedStore(tmp_path, exact_max=500)
    assert (tmp_path / IVF_FOLDER / "big.npz").exists()
    reopened.delete_collection("big")
    assert not (tmp_path / IVF_FOLDER / "big.npz").exists()
    reopened.create_collection("big", "m", D)  # a new collection of the same name starts empty
    assert reopened.get_collection("big").count == 0


def test_a_store_that_cannot_save_its_index_still_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _filled(tmp_path, _points(1000, 8))
    (tmp_path / IVF_FOLDER).write_text("a file where the folder should be")
    store.close()  # no exception: the saved index is only a cache
    assert "could not save the trained index" in caplog.text
    assert EmbeddedStore(tmp_path, exact_max=500).get_collection("big").count == 1000
