"""Files on disk for the CLI tests: one picture per shape, and a folder tree with a broken file."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def shape_files(tmp_path: Path, shape_images: dict[str, list[bytes]]) -> dict[str, Path]:
    files = {}
    for caption, images in shape_images.items():
        path = tmp_path / f"{caption.replace(' ', '_')}.png"
        path.write_bytes(images[0])
        files[caption] = path
    return files


@pytest.fixture
def catalogue(tmp_path: Path, shape_images: dict[str, list[bytes]]) -> Path:
    folder = tmp_path / "photos"
    for caption, images in shape_images.items():
        sub = folder / caption.split()[-1]
        sub.mkdir(parents=True)
        for i, png in enumerate(images):
            (sub / f"{caption.replace(' ', '_')}_{i}.png").write_bytes(png)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "notes.txt").write_text("not an image, not even looked at")
    return folder
