"""Weight resolution fails fast and clearly when nothing is cached and the hub is unreachable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pixembed.errors import NotFound, WeightsUnavailable
from pixembed.runtime.loading import load_model
from pixembed.runtime.weights import BUNDLED_MODELS, default_tag, resolve_weights


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache and a hub address that cannot answer."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    return tmp_path


def test_uncached_weights_fail_fast_with_instructions(offline: Path) -> None:
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights("ViT-B-32", cache_dir=str(offline))
    assert time.monotonic() - start < 10
    message = info.value.message
    assert "ViT-B-32 (openai)" in message
    assert "--weights" in message
    assert "pixembed-tiny" in message


def test_openai_tag_is_the_default_and_uses_quick_gelu(offline: Path) -> None:
    assert default_tag("ViT-B-32") == "openai"
    (offline / "ViT-B-32.pt").write_bytes(b"not really")  # open_clip's URL cache layout
    source = resolve_weights("ViT-B-32", cache_dir=str(offline))
    assert source.checkpoint == str(offline / "ViT-B-32.pt")
    assert source.quick_gelu is True


def test_unknown_model_and_tag_are_not_found(offline: Path) -> None:
    with pytest.raises(NotFound, match="unknown model"):
        resolve_weights("ViT-Q-99", cache_dir=str(offline))
    with pytest.raises(NotFound, match="no pretrained tag"):
        resolve_weights("ViT-B-32", "nonesuch", cache_dir=str(offline))


def test_missing_weights_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_model("ViT-B-32", weights=tmp_path / "missing.pt")


def test_corrupt_checkpoint_is_weights_unavailable_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsUnavailable, match="could not load"):
        load_model("ViT-B-32", weights=bad)


def test_bundled_tiny_model_loads_by_name() -> None:
    assert "pixembed-tiny" in BUNDLED_MODELS
    model = load_model("pixembed-tiny")
    assert model.info.name == "pixembed-tiny"
    assert model.embed_texts(["a red circle"]).shape == (1, model.info.dimensions)
