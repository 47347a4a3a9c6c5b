"""What only the embedded store promises: reopening from disk, and an approximate index above exact_max."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixembed.store import Record
from pixembed.store.embedded import EmbeddedStore
from tests.store.vectors import random_unit


def test_reopening_restores_every_item_and_the_index(tmp_path: Path) -> None:
    vectors = random_unit(50, 8, 1)
    store = EmbeddedStore(tmp_path)
    store.create_collection("c", "m", 8)
    store.upsert("c", [Record(str(i), vectors[i], {"i": i}) for i in range(50)])
    store.delete("c", ["3"])
    store.close()
    reopened = EmbeddedStore(tmp_path)
    assert reopened.get_collection("c").count == 49
    assert reopened.search("c", vectors[10], 1)[0].id == "10"
    assert "3" not in {m.id for m in reopened.search("c", vectors[3], 5)}


def test_approximate_index_recall_and_replacements(tmp_path: Path) -> None:
    n, d = 3000, 32
    vectors = random_unit(n, d, 2)
    store = EmbeddedStore(tmp_path, exact_max=500)
    store.create_collection("big", "m", d)
    for start in range(0, n, 1000):
        store.upsert(
            "big", [Record(str(i), vectors[i], {"even": i % 2 == 0}) for i in range(start, start + 1000)]
        )
    assert store._indexes["big"].approximate
    queries = random_unit(50, d, 3)
    recalls = []
    for q in queries:
        exact = {str(i) for i in np.argsort(-(vectors @ q))[:10]}
        found = {m.id for m in store.search("big", q, 10)}
        recalls.append(len(exact & found) / 10)
    assert np.mean(recalls) >= 0.95
    store.delete("big", [str(i) for i in range(0, 100)])
    assert all(int(m.id) >= 100 for m in store.search("big", vectors[5], 10))
    store.upsert("big", [Record("150", vectors[7], {"even": False})])  # replace: the old vector must vanish
    assert (
        store.search("big", vectors[150], 1)[0].id != "150"
        or store.search("big", vectors[150], 1)[0].score < 0.99
    )
    assert store.search("big", vectors[7], 2)[0].score > 0.999


def test_a_second_process_sees_writes_and_deletes_of_the_first(tmp_path: Path) -> None:
    vectors = random_unit(20, 8, 4)
    writer, reader = EmbeddedStore(tmp_path), EmbeddedStore(tmp_path)
    writer.create_collection("c", "m", 8)
    writer.upsert("c", [Record(str(i), vectors[i], {}) for i in range(10)])
    assert reader.search("c", vectors[3], 1)[0].id == "3"
    writer.upsert("c", [Record(str(i), vectors[i], {}) for i in range(10, 20)])
    writer.delete("c", ["3"])
    assert reader.get_collection("c").count == 19
    assert reader.search("c", vectors[15], 1)[0].id == "15"
    assert "3" not in {m.id for m in reader.search("c", vectors[3], 3)}
    writer.delete_collection("c")
    assert reader.list_collections() == []
