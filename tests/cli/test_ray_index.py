"""``pixembed index --ray``: a local Ray Data pipeline writes what the in-process path would have."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app
from pixembed.imaging import decode_image
from pixembed.runtime.model import ClipModel
from pixembed.services.hashing import image_hashes
from pixembed.store import open_store
from pixembed.store.thumbnails import THUMBNAILS_FILENAME, ThumbnailStore
from pixembed.synthetic.shapes import render_shape
from tests.helpers import encode

ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'pixembed[ray]'")

# Ray Data warns about its own renamed settings when a context is created; nothing pixembed sets.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")
runner = CliRunner()


def _draw(folder: Path, shapes: list[tuple[str, str]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for shape, colour in shapes:
        sub = folder / shape
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (sub / f"{colour}_{i}.png").write_bytes(encode(render_shape(shape, colour, size=96, rng=rng)))


def _index(folder: Path, data: Path, *extra: str) -> dict[str, object]:
    result = runner.invoke(
        app,
        ["index", str(folder), "-c", "shapes", "--model", "pixembed-tiny", "--data-dir", str(data), *extra],
    )
    report: dict[str, object] = json.loads(result.stdout)
    assert result.exit_code == (1 if report["failed"] else 0), result.stderr  # 1: some files were skipped
    return report


@pytest.mark.slow
def test_ray_index_matches_the_local_path_and_both_resume(tmp_path: Path, tiny_model: ClipModel) -> None:
    folder, data = tmp_path / "photos", tmp_path / "data"
    _draw(folder, [("circle", "red"), ("square", "blue")], seed=1)
    assert _index(folder, data) == {"collection": "shapes", "indexed": 4, "unchanged": 0, "failed": 0}

    _draw(folder, [("triangle", "green"), ("star", "yellow")], seed=2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    report = _index(folder, data, "--ray")
    assert report == {"collection": "shapes", "indexed": 4, "unchanged": 4, "failed": 1}
    assert not ray.is_initialized(), "the local Ray this run started must be shut down"

    store = open_store(str(data))
    stored = {record.id: record for batch in store.scan("shapes") for record in batch}
    store.close()
    files = sorted(folder.rglob("*.png"))
    ids = [f.relative_to(folder).as_posix() for f in files]
    assert sorted(stored) == ids
    expected = tiny_model.embed_images([decode_image(f.read_bytes(), max_pixels=10**8) for f in files])
    for item_id, file, want in zip(ids, files, expected, strict=True):
        record = stored[item_id]
        facts = record.metadata.pop("image")
        assert record.metadata == {"path": item_id, "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
        # Both paths store the image facts that hash-based dedup of the collection reads.
        picture = decode_image(file.read_bytes(), max_pixels=10**8)
        assert facts["hashes"] == image_hashes(picture)
        assert (facts["width"], facts["height"], facts["bytes"]) == (*picture.size, file.stat().st_size)
        assert float(np.dot(record.vector, want)) >= 0.9999, item_id
    # Both paths keep a thumbnail of every file they indexed.
    thumbnails = ThumbnailStore(str(data / THUMBNAILS_FILENAME))
    for item_id in ids:
        thumbnail = thumbnails.get("shapes", item_id)
        picture, media_type = thumbnail.data, thumbnail.media_type
        assert media_type == "image/jpeg" and Image.open(io.BytesIO(picture)).size == (96, 96), item_id
    thumbnails.close()

    assert _index(folder, data) == {"collection": "shapes", "indexed": 0, "unchanged": 8, "failed": 1}
