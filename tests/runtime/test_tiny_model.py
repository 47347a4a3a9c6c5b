"""The committed pixembed-tiny model: an open_clip local-dir folder that still knows its shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import open_clip
import pytest
import torch

import pixembed
from pixembed.runtime.loading import load_model
from pixembed.synthetic import CLASSES, caption, sample_dataset

TINY = Path(pixembed.__file__).parent / "runtime" / "assets" / "pixembed-tiny"
TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_tiny.py"
# Not a seed the training script uses: it trains on SeedSequence([seed, step, chunk]) streams and
# reports its own held-out accuracy on seed 10000.
HELD_OUT_SEED = 424_242
HELD_OUT_IMAGES = 480


def _load(folder: Path) -> tuple[Any, Any, Any]:
    """Load through pixembed's own loader, the path real weights take."""
    name = "pixembed-tiny" if folder == TINY else f"local-dir:{folder}"
    module = load_model(name, runtime="torch").session.module  # type: ignore[attr-defined]
    _, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    return module, preprocess, open_clip.get_tokenizer(f"local-dir:{folder}")


@torch.inference_mode()
def _zero_shot_accuracy(folder: Path, n: int, seed: int) -> float:
    model, preprocess, tokenizer = _load(folder)
    samples = sample_dataset(n, seed=seed)
    texts = model.encode_text(tokenizer([caption(s, c) for s, c in CLASSES]), normalize=True)
    images = model.encode_image(torch.stack([preprocess(s.image) for s in samples]), normalize=True)
    predicted = (images @ texts.T).argmax(dim=1).tolist()
    truth = [CLASSES.index((s.shape, s.colour)) for s in samples]
    return float(sum(p == t for p, t in zip(predicted, truth, strict=True))) / n


def test_committed_folder_is_small_and_complete() -> None:
    config = json.loads((TINY / "open_clip_config.json").read_text())
    assert {"embed_dim", "vision_cfg", "text_cfg"} <= set(config["model_cfg"])
    assert config["preprocess_cfg"]["interpolation"] == "bicubic"
    assert config["preprocess_cfg"]["resize_mode"] == "shortest"
    assert (TINY / "open_clip_model.safetensors").stat().st_size <= 10_000_000
    metrics = json.loads((TINY / "metrics.json").read_text())
    assert metrics["num_classes"] == len(CLASSES)
    assert metrics["zero_shot_accuracy"] >= 0.90


def test_tokenizer_is_clip_bpe() -> None:
    _, _, tokenizer = _load(TINY)
    assert isinstance(tokenizer, open_clip.SimpleTokenizer)
    assert tokenizer.vocab_size == 49408
    tokens = tokenizer(["a red circle"])[0]
    reference = open_clip.tokenize(["a red circle"])[0][: tokens.shape[0]]
    assert torch.equal(tokens, reference)


def test_zero_shot_accuracy_on_held_out_shapes() -> None:
    accuracy = _zero_shot_accuracy(TINY, HELD_OUT_IMAGES, HELD_OUT_SEED)
    assert accuracy >= 0.90, f"zero-shot accuracy {accuracy:.3f} over {len(CLASSES)} captions"


@pytest.mark.slow
def test_training_script_writes_a_loadable_folder(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--quick", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert {p.name for p in out.iterdir()} == {
        "open_clip_config.json",
        "open_clip_model.safetensors",
        "metrics.json",
    }
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3
    assert 0.0 <= metrics["zero_shot_accuracy"] <= 1.0
    model, preprocess, tokenizer = _load(out)
    with torch.inference_mode():
        image = model.encode_image(preprocess(sample_dataset(1, seed=0)[0].image)[None], normalize=True)
        text = model.encode_text(tokenizer(["a red circle"]), normalize=True)
    assert image.shape == text.shape == (1, 128)
