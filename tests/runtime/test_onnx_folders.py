"""ONNX model folders load without torch: immich's published layout, and pixembed's own export cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.weights import BUNDLED_MODELS
from tests.runtime.immich_folder import write_immich_folder
from tests.runtime.pictures import cosines, photos

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
SRC = Path(__file__).resolve().parents[2] / "src"
TEXTS = ["a red circle", "", "a photo of " * 40, "Don't &amp; CAFÉ 日本"]
# Run in a child process where importing torch or open_clip fails, so only a torch-free path can pass.
NO_TORCH = """
import sys
for name in ("torch", "open_clip", "torchvision"):
    sys.modules[name] = None
"""


@pytest.fixture(scope="module")
def tiny_module() -> object:
    module = open_clip.create_model(f"local-dir:{BUNDLED_MODELS['pixembed-tiny']}").eval()
    module.requires_grad_(False)
    return module


@pytest.fixture(scope="module")
def immich_folder(tiny_module: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_immich_folder(tiny_module, tmp_path_factory.mktemp("immich") / "pixembed-tiny", 32, 64)


def _open_clip_vectors(module: object, images: list, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    folder = f"local-dir:{BUNDLED_MODELS['pixembed-tiny']}"
    _, _, preprocess = open_clip.create_model_and_transforms(folder)
    with torch.no_grad():
        image = module.encode_image(torch.stack([preprocess(im) for im in images])).numpy()  # type: ignore[attr-defined]
        text = module.encode_text(open_clip.get_tokenizer(folder)(texts)).numpy()  # type: ignore[attr-defined]
    return image, text


def _embed_without_torch(
    args: dict[str, object], images: Path, env: dict[str, str] | None = None
) -> dict[str, object]:
    script = (
        NO_TORCH
        + f"""
import json, numpy as np
from PIL import Image
from pixembed.runtime.loading import load_model
model = load_model(**{args!r})
pictures = [Image.open(p) for p in sorted(__import__("glob").glob({str(images)!r} + "/*.png"))]
print(json.dumps({{"info": model.info.__dict__, "images": model.embed_images(pictures).tolist(),
                  "texts": model.embed_texts({TEXTS!r}).tolist()}}))
"""
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(SRC)} | (env or {}),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _pictures(folder: Path) -> list:
    folder.mkdir()
    images = photos(4)
    for i, image in enumerate(images):
        image.save(folder / f"{i}.png")
    return images


def test_an_immich_folder_loads_without_torch_and_matches_open_clip(
    immich_folder: Path, tiny_module: object, tmp_path: Path
) -> None:
    images = _pictures(tmp_path / "pictures")
    served = _embed_without_torch({"spec": str(immich_folder)}, tmp_path / "pictures")
    assert served["info"]["runtime"] == "onnx"
    assert served["info"]["context_length"] == 32 and served["info"]["image_size"] == 64
    ref_images, ref_texts = _open_clip_vectors(tiny_module, images, TEXTS)
    assert cosines(np.array(served["images"]), ref_images).min() >= 0.9999
    assert cosines(np.array(served["texts"]), ref_texts).min() >= 0.9999


def test_an_immich_folder_also_loads_as_weights(immich_folder: Path, tiny_model: ClipModel) -> None:
    model = load_model("ViT-B-32", weights=immich_folder)
    images = photos(3)  # more than its fixed batch of one: rows go through one at a time
    assert cosines(model.embed_images(images), tiny_model.embed_images(images)).min() >= 0.9999
    assert cosines(model.embed_texts(TEXTS), tiny_model.embed_texts(TEXTS)).min() >= 0.9999


def test_an_export_is_cached_and_the_second_start_needs_no_torch(tmp_path: Path, tiny_module: object) -> None:
    weights = tmp_path / "tiny.pt"
    torch.save(tiny_module.state_dict(), weights)  # type: ignore[attr-defined]
    config = json.loads((BUNDLED_MODELS["pixembed-tiny"] / "open_clip_config.json").read_text())
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    (folder / "open_clip_pytorch_model.bin").write_bytes(weights.read_bytes())
    data = tmp_path / "data"
    first = load_model("tiny", weights=folder, data_dir=data)
    assert first.info.runtime == "onnx"
    cached = [p for p in (data / "onnx").iterdir() if (p / "visual" / "model.onnx").is_file()]
    assert len(cached) == 1 and len(cached[0].name) == 32  # named by the checkpoint's sha256
    images = _pictures(tmp_path / "pictures")
    served = _embed_without_torch(
        {"spec": "tiny", "weights": str(folder), "data_dir": str(data)}, tmp_path / "pictures"
    )
    assert served["info"]["runtime"] == "onnx"
    np.testing.assert_allclose(np.array(served["images"]), first.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(np.array(served["texts"]), first.embed_texts(TEXTS), atol=1e-5)


def test_the_bundled_tiny_model_serves_without_torch(tmp_path: Path, tiny_model: ClipModel) -> None:
    images = _pictures(tmp_path / "pictures")
    served = _embed_without_torch({"spec": "pixembed-tiny"}, tmp_path / "pictures")
    assert (served["info"]["name"], served["info"]["runtime"]) == ("pixembed-tiny", "onnx")
    np.testing.assert_allclose(np.array(served["images"]), tiny_model.embed_images(images), atol=1e-6)


def test_without_torch_an_unexported_checkpoint_fails_fast_saying_what_to_install(tmp_path: Path) -> None:
    script = (
        NO_TORCH
        + f"""
from pixembed.runtime.loading import load_model
from pixembed.errors import WeightsUnavailable
try:
    load_model("ViT-B-32", data_dir={str(tmp_path)!r})
except WeightsUnavailable as exc:
    print(exc.message)
"""
    )
    env = os.environ | {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pixembed[torch]" in done.stdout and "ONNX model folder" in done.stdout


def test_the_bundled_onnx_tiny_model_equals_its_open_clip_checkpoint(
    tiny_model: ClipModel, tiny_module: object
) -> None:
    """The committed ONNX form (scripts/export_tiny_onnx.py) stays in step with the committed checkpoint."""
    assert tiny_model.info.runtime == "onnx"
    images = photos(5)
    ref_images, ref_texts = _open_clip_vectors(tiny_module, images, TEXTS)
    norm = np.linalg.norm
    np.testing.assert_allclose(
        tiny_model.embed_images(images), ref_images / norm(ref_images, axis=1, keepdims=True), atol=1e-5
    )
    np.testing.assert_allclose(
        tiny_model.embed_texts(TEXTS), ref_texts / norm(ref_texts, axis=1, keepdims=True), atol=1e-5
    )


def _hf_cache_with(folder: Path, repository: str, hf_home: Path) -> None:
    """Lay ``folder`` out as the Hugging Face cache holds a downloaded repository (refs/main -> snapshot)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / f"models--{repository.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    for file in folder.rglob("*"):
        if file.is_file():
            (snapshot / file.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / file.relative_to(folder)).write_bytes(file.read_bytes())


def test_without_torch_the_default_model_comes_as_onnx_from_immichs_hub_repository(
    immich_folder: Path, tiny_model: ClipModel, tmp_path: Path
) -> None:
    """A core install serving ``ViT-B-32`` takes immich's ``ViT-B-32__openai`` folder from the Hugging Face
    cache (offline here, so the cache is all there is; its contents are the tiny model's, laid out as the
    hub's repository would be: the loader cannot tell, and the vectors prove which graph served)."""
    hf_home = tmp_path / "hf"
    _hf_cache_with(immich_folder, "immich-app/ViT-B-32__openai", hf_home)
    images = _pictures(tmp_path / "pictures")
    env = {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    served = _embed_without_torch(
        {"spec": "ViT-B-32", "data_dir": str(tmp_path / "data")}, tmp_path / "pictures", env
    )
    assert (served["info"]["name"], served["info"]["runtime"]) == ("ViT-B-32/openai", "onnx")
    assert cosines(np.array(served["images"]), tiny_model.embed_images(images)).min() >= 0.9999
    assert cosines(np.array(served["texts"]), tiny_model.embed_texts(TEXTS)).min() >= 0.9999


def test_without_torch_and_offline_the_default_model_fails_fast_naming_the_ways_to_supply_it(
    tmp_path: Path,
) -> None:
    script = (
        NO_TORCH
        + f"""
import time
from pixembed.runtime.loading import load_model
from pixembed.errors import WeightsUnavailable
started = time.monotonic()
try:
    load_model("ViT-B-32", data_dir={str(tmp_path)!r})
except WeightsUnavailable as exc:
    print(round(time.monotonic() - started, 2), exc.message)
"""
    )
    env = os.environ | {"PYTHONPATH": str(SRC), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, message = done.stdout.strip().split(" ", 1)
    assert float(seconds) < 5
    assert "immich-app/ViT-B-32__openai" in message and "not cached and the hub is unreachable" in message
    assert "--weights" in message and "pixembed[torch]" in message and "--model pixembed-tiny" in message


def test_immichs_published_vitb32_matches_open_clip_where_both_are_cached(tmp_path: Path) -> None:
    """The real check of the hub path: immich's ONNX ViT-B-32 against open_clip's ViT-B-32/openai, on a
    machine whose Hugging Face cache holds both (nothing downloads here; it skips elsewhere)."""
    from huggingface_hub import try_to_load_from_cache

    from pixembed.runtime.hub_onnx import hub_onnx_folder
    from pixembed.runtime.weights import _cached_checkpoint

    if not isinstance(try_to_load_from_cache("immich-app/ViT-B-32__openai", "visual/model.onnx"), str):
        pytest.skip("immich-app/ViT-B-32__openai is not in the Hugging Face cache")
    if _cached_checkpoint(open_clip.get_pretrained_cfg("ViT-B-32", "openai"), None) is None:
        pytest.skip("open_clip's ViT-B-32/openai weights are not cached")
    folder = hub_onnx_folder("immich-app/ViT-B-32__openai")
    served = load_model(str(folder.path), data_dir=tmp_path)
    reference = load_model("ViT-B-32", runtime="torch", data_dir=tmp_path)
    images = photos(4)
    assert cosines(served.embed_images(images), reference.embed_images(images)).min() >= 0.999
    assert cosines(served.embed_texts(TEXTS), reference.embed_texts(TEXTS)).min() >= 0.999
