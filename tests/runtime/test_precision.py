"""Precision fast paths: checked against fp32 at load time in either runtime, fp32 when they fail."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from pixembed.errors import InvalidRequest
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.precision import CheckBatch, check_images, check_texts, checked
from pixembed.runtime.torch_loading import default_torch_precision
from pixembed.runtime.torch_session import TorchSession
from tests.factories import MakeClient
from tests.runtime.pictures import cosines, photos


def test_torch_auto_picks_fp16_on_cuda_and_bf16_only_where_the_cpu_has_native_bf16() -> None:
    from pixembed.runtime.precision import native_bf16

    assert default_torch_precision("cuda") == "fp16"
    assert default_torch_precision("cpu") == ("bf16" if native_bf16() else "fp32")


def test_unknown_precision_and_runtime_are_clear_errors() -> None:
    with pytest.raises(InvalidRequest, match="auto, fp32, bf16, fp16, int8"):
        load_model("pixembed-tiny", precision="fp8")
    with pytest.raises(InvalidRequest, match="auto, onnx, torch"):
        load_model("pixembed-tiny", runtime="tensorrt")


@pytest.mark.parametrize(("precision", "runtime"), [("bf16", "torch"), ("int8", "torch"), ("int8", "onnx")])
def test_fast_paths_serve_vectors_within_0999_of_fp32(
    tiny_model: ClipModel, precision: str, runtime: str
) -> None:
    fast = load_model("pixembed-tiny", precision=precision, runtime=runtime)
    assert (fast.info.runtime, fast.info.precision) == (runtime, precision)
    assert fast.info.min_cosine is not None and fast.info.min_cosine >= 0.999
    images, texts = photos(4) + check_images(), check_texts()
    assert cosines(fast.embed_images(images), tiny_model.embed_images(images)).min() >= 0.999
    assert cosines(fast.embed_texts(texts), tiny_model.embed_texts(texts)).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(fast.embed_images(images), axis=1), 1.0, atol=1e-5)


def test_auto_serves_the_fastest_checked_onnx_choice(tiny_model: ClipModel) -> None:
    chosen = load_model("pixembed-tiny", precision="auto")
    assert chosen.info.runtime == "onnx"
    assert chosen.info.precision in ("fp32", "int8")
    if chosen.info.precision == "int8":
        assert chosen.info.min_cosine is not None and chosen.info.min_cosine >= 0.999
    images = photos(3)
    assert cosines(chosen.embed_images(images), tiny_model.embed_images(images)).min() >= 0.999


def test_a_fast_path_that_misses_the_bar_falls_back_to_fp32_and_says_why(tiny_model: ClipModel) -> None:
    torch_model = load_model("pixembed-tiny", runtime="torch")
    module = torch_model.session.module  # type: ignore[attr-defined]
    fp32 = TorchSession(module)
    batch = CheckBatch.build(torch_model.preprocess, torch_model.tokenizer)
    chosen = checked(fp32, "bf16", lambda: TorchSession.converted(module, "bf16", "cpu"), batch, bar=1.01)
    assert chosen.session is fp32
    assert chosen.fallback_reason is not None and "differ from fp32" in chosen.fallback_reason


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "runtime"), [("bf16", "torch"), ("int8", "torch"), ("int8", "onnx")])
def test_fast_paths_match_open_clip_on_full_size_vitb32(
    random_vitb32: tuple[Path, torch.nn.Module], precision: str, runtime: str
) -> None:
    path, reference = random_vitb32
    model = load_model("ViT-B-32", weights=path, precision=precision, runtime=runtime)
    assert (model.info.runtime, model.info.precision) == (runtime, precision)
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    images = photos(2)  # few: bf16 is emulated, and slow, on CPUs without native bf16
    with torch.inference_mode():
        ref = reference.encode_image(torch.stack([preprocess(im) for im in images])).numpy()
        ref_txt = reference.encode_text(open_clip.get_tokenizer("ViT-B-32")(check_texts())).numpy()
    assert cosines(model.embed_images(images), ref).min() >= 0.999
    assert cosines(model.embed_texts(check_texts()), ref_txt).min() >= 0.999


def test_models_route_reports_the_runtime_and_precision_in_use(make_client: MakeClient) -> None:
    int8 = make_client(model=load_model("pixembed-tiny", precision="int8"))
    loaded = int8.get("/v1/models").json()["loaded"]
    assert (loaded["model"], loaded["runtime"], loaded["precision"], loaded["device"]) == (
        "pixembed-tiny",
        "onnx",
        "int8",
        "cpu",
    )
    assert loaded["min_cosine"] >= 0.999
    bf16 = make_client(model=load_model("pixembed-tiny", precision="bf16"))
    loaded = bf16.get("/v1/models").json()["loaded"]
    assert (loaded["runtime"], loaded["precision"]) == ("torch", "bf16")


def test_on_a_native_bf16_cpu_auto_also_times_torch_bf16_and_keeps_the_fastest(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The AMX branch of ``auto``, run here by saying the CPU has native bf16: torch bf16 is checked and
    timed beside ONNX fp32/int8 (on this CPU bf16 is emulated, so it must measure slower and lose)."""
    from pixembed.runtime import loading

    monkeypatch.setattr(loading, "native_bf16", lambda: True)
    with caplog.at_level("INFO", logger="pixembed.runtime.precision"):
        chosen = load_model("pixembed-tiny", precision="auto", data_dir=tmp_path)
    timed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auto:")]
    assert any("torch bf16" in line for line in timed), timed
    assert any("onnx fp32" in line for line in timed), timed
    from pixembed.runtime.precision import native_bf16

    if not native_bf16():
        assert chosen.info.runtime == "onnx"


def test_contradictory_runtime_and_precision_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="ONNX Runtime serves fp32 and int8"):
        load_model("pixembed-tiny", runtime="onnx", precision="bf16")


def test_auto_remembers_its_choice_and_a_restart_builds_and_checks_only_that(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Choosing builds and times every candidate (on AMX CPUs that means importing torch); a restart on the
    same machine rebuilds only the remembered choice, still checked against fp32, and times nothing."""
    from pixembed.runtime import loading

    first = load_model("pixembed-tiny", precision="auto", data_dir=tmp_path)
    (record,) = (tmp_path / "onnx" / "auto").glob("*.json")
    remembered = json.loads(record.read_text())
    assert remembered["precision"] == first.info.precision
    assert set(remembered["check_batch_ms"]) >= {"fp32", "int8"}

    def no_timing(*_: object) -> None:
        raise AssertionError("a remembered choice is not timed again")

    monkeypatch.setattr(loading, "fastest", no_timing)
    monkeypatch.setattr(loading, "_torch_bf16_choice", no_timing)
    with caplog.at_level("INFO", logger="pixembed.runtime.precision"):
        again = load_model("pixembed-tiny", precision="auto", data_dir=tmp_path)
    assert (again.info.runtime, again.info.precision) == (first.info.runtime, first.info.precision)
    if again.info.precision != "fp32":
        assert any(f"precision {again.info.precision} checked" in r.getMessage() for r in caplog.records)
    images = check_images()
    assert np.allclose(again.embed_images(images), first.embed_images(images), atol=1e-5)


def test_an_unreadable_auto_record_means_choosing_again(tmp_path: Path) -> None:
    load_model("pixembed-tiny", precision="auto", data_dir=tmp_path)
    (record,) = (tmp_path / "onnx" / "auto").glob("*.json")
    record.write_text('{"precision": "fp8"')
    chosen = load_model("pixembed-tiny", precision="auto", data_dir=tmp_path)
    assert json.loads(record.read_text())["precision"] == chosen.info.precision


def test_auto_serves_torch_only_when_it_is_clearly_faster_than_onnx_runtime() -> None:
    """A near tie keeps ONNX Runtime (torch costs 1 GB and seconds of start-up); a clear win serves torch."""
    from pixembed.runtime.precision import TORCH_HANDICAP, Choice, fastest
    from pixembed.runtime.session import SessionInfo

    class Timed:
        """Stands in for a session whose forward takes a known time (the rule under test is arithmetic)."""

        def __init__(self, runtime: str, precision: str, seconds: float) -> None:
            self.info = SessionInfo(runtime, precision, "cpu")
            self.seconds = seconds

        def encode_images(self, pixels: object) -> None:
            time.sleep(self.seconds)

    pixels = np.zeros((2, 3, 8, 8), np.float32)
    onnx = Choice(Timed("onnx", "int8", 0.020))  # type: ignore[arg-type]
    near_tie = Choice(Timed("torch", "bf16", 0.020 / (TORCH_HANDICAP * 1.1) * 1.2))  # type: ignore[arg-type]
    clear_win = Choice(Timed("torch", "bf16", 0.020 / (TORCH_HANDICAP * 1.6)))  # type: ignore[arg-type]
    assert fastest([onnx, near_tie], pixels)[0] is onnx
    chosen, timings = fastest([onnx, clear_win], pixels)
    assert chosen is clear_win and set(timings) == {"int8", "bf16"}
