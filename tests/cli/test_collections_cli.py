"""``pixembed index``, ``search`` and ``collections``: resumable indexing, bad files skipped, exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app
from pixembed.services.catalogue import catalogue_from_store
from pixembed.services.dedup import find_duplicates
from pixembed.store import Record, open_store

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_index_is_resumable_and_reports_bad_files(catalogue: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out, errors = _run(
        "index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", data
    )
    assert code == 1, errors  # done, but broken.jpg was skipped (README's exit codes)
    assert json.loads(out) == {"collection": "shapes", "indexed": 12, "unchanged": 0, "failed": 1}
    assert "broken.jpg" in errors
    (catalogue / "circle" / "a_red_circle_0.png").write_bytes(
        (catalogue / "star" / "a_yellow_star_0.png").read_bytes()
    )
    code, out, _ = _run(
        "index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", data
    )
    assert json.loads(out) == {"collection": "shapes", "indexed": 1, "unchanged": 11, "failed": 1}
    code, out, _ = _run("collections", "info", "shapes", "--data-dir", data)
    assert json.loads(out)["count"] == 12


def test_indexed_files_carry_the_hashes_that_find_their_copies(catalogue: Path, tmp_path: Path) -> None:
    """A photo kept twice (once re-encoded smaller) is found by hash dedup of the indexed collection."""
    original = catalogue / "star" / "a_yellow_star_0.png"
    with Image.open(original) as picture:
        smaller = picture.convert("RGB").resize((picture.width // 2, picture.height // 2))
    smaller.save(catalogue / "copy_of_star.jpg", quality=85)
    data = tmp_path / "data"
    code, _, errors = _run(
        "index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", str(data)
    )
    assert code == 1, errors  # broken.jpg skipped
    store = open_store(str(data))
    catalogue_of_store = catalogue_from_store(store, "shapes", max_items=1000)
    store.close()
    assert all(catalogue_of_store.hashes["phash"])  # every indexed file has its hashes
    result = find_duplicates(catalogue_of_store, "phash", hash_threshold=10)
    pairs = {frozenset((catalogue_of_store.ids[p.a], catalogue_of_store.ids[p.b])) for p in result.pairs}
    assert frozenset(("star/a_yellow_star_0.png", "copy_of_star.jpg")) in pairs
    # An item indexed before the facts were stored is indexed again once, then counts as unchanged.
    store = open_store(str(data))
    old = store.get("shapes", "copy_of_star.jpg")
    without_facts = {k: v for k, v in old.metadata.items() if k != "image"}
    store.upsert("shapes", [Record(old.id, old.vector, without_facts)])
    store.close()
    args = ("index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", str(data))
    assert json.loads(_run(*args)[1]) == {"collection": "shapes", "indexed": 1, "unchanged": 12, "failed": 1}
    assert json.loads(_run(*args)[1]) == {"collection": "shapes", "indexed": 0, "unchanged": 13, "failed": 1}


def test_search_by_text_and_image(catalogue: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    _run("index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", data)
    code, out, errors = _run(
        "search",
        "-c",
        "shapes",
        "--text",
        "a green triangle",
        "--top-k",
        "3",
        "--model",
        "pixembed-tiny",
        "--data-dir",
        data,
    )
    assert code == 0, errors
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["id"].split("/")[0] for h in hits] == ["triangle"] * 3
    image = catalogue / "square" / "a_blue_square_2.png"
    code, out, _ = _run(
        "search",
        "-c",
        "shapes",
        "--image",
        str(image),
        "--top-k",
        "1",
        "--model",
        "pixembed-tiny",
        "--data-dir",
        data,
    )
    assert json.loads(out.splitlines()[0])["id"] == "square/a_blue_square_2.png"
    code, out, _ = _run(
        "search",
        "-c",
        "shapes",
        "--text",
        "x",
        "--filter",
        '{"path": "star/a_yellow_star_1.png"}',
        "--model",
        "pixembed-tiny",
        "--data-dir",
        data,
    )
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["star/a_yellow_star_1.png"]


def test_list_export_and_delete(catalogue: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    _run("index", str(catalogue), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", data)
    code, out, _ = _run("collections", "list", "--data-dir", data)
    assert code == 0
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["shapes"]
    npy = tmp_path / "shapes.npy"
    assert _run("collections", "export", "shapes", "--out", str(npy), "--data-dir", data)[0] == 0
    vectors = np.load(npy)
    ids = json.loads(npy.with_suffix(".ids.json").read_text())
    assert vectors.shape[0] == len(ids) == 12
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    import pyarrow.parquet as pq

    parquet = tmp_path / "shapes.parquet"
    assert _run("collections", "export", "shapes", "--out", str(parquet), "--data-dir", data)[0] == 0
    table = pq.read_table(parquet)
    assert table.num_rows == 12
    assert json.loads(table.column("metadata")[0].as_py())["sha256"]
    assert _run("collections", "delete", "shapes", "--yes", "--data-dir", data)[0] == 0
    done = subprocess.run(
        [sys.executable, "-m", "pixembed", "collections", "info", "shapes", "--data-dir", data],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "no collection named 'shapes'" in done.stderr
