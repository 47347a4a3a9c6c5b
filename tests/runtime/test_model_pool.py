"""``ModelPool``: names and aliases, loading on first use (once, however many ask), load failures, the memory
budget (least recently used unloaded; resident memory within budget + the largest model), and models files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pixembed.config import Settings
from pixembed.errors import InvalidRequest, Unavailable, UnknownModel
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.models_file import ModelsConfig, ServedModel, models_from_settings, read_models_file
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.pool import ModelPool

ROOT = Path(__file__).resolve().parents[2]
TINY = LoadOptions(model="pixembed-tiny", precision="fp32")


def test_names_aliases_and_unknown_models() -> None:
    config = ModelsConfig(
        (
            ServedModel("tiny", TINY, aliases=("clip",), load="lazy"),
            ServedModel("tiny-int8", replace(TINY, precision="int8"), load="lazy"),
        )
    )
    pool = ModelPool(config)
    assert [pool.resolve(n) for n in (None, "tiny", "clip", "pixembed-tiny", "tiny-int8")] == [
        "tiny",
        "tiny",
        "tiny",
        "tiny",
        "tiny-int8",
    ]
    with pytest.raises(UnknownModel) as raised:
        pool.resolve("ViT-H-14")
    assert raised.value.message == "model 'ViT-H-14' is not served here; available: tiny, tiny-int8"
    assert raised.value.available == ("tiny", "tiny-int8")
    assert pool.peek("clip") is None  # nothing loaded by resolving


def test_a_lazy_model_loads_once_however_many_ask_at_once() -> None:
    calls: list[str] = []

    def counting_loader(options: LoadOptions) -> ClipModel:
        calls.append(options.model)
        return load_model(options)

    pool = ModelPool(ModelsConfig((ServedModel("tiny", TINY, load="lazy"),)), loader=counting_loader)
    got: list[ClipModel] = []
    threads = [threading.Thread(target=lambda: got.append(pool.get("tiny"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["pixembed-tiny"]
    assert len(got) == 4 and all(model is got[0] for model in got)
    assert pool.models()[0].loaded and pool.models()[0].size_bytes is not None


def test_a_model_that_fails_to_load_is_a_503_and_the_others_serve() -> None:
    broken = replace(TINY, runtime="onnx", precision="bf16")  # ONNX Runtime serves no bf16
    pool = ModelPool(ModelsConfig((ServedModel("tiny", TINY), ServedModel("broken", broken))))
    pool.load_at_start()
    assert pool.get().info.name == "pixembed-tiny"
    with pytest.raises(Unavailable) as raised:
        pool.get("broken")
    assert raised.value.message.startswith("model broken failed to load: ONNX Runtime serves fp32 and int8")
    assert pool.readiness() == ("ready", None)
    with pytest.raises(InvalidRequest, match="ONNX Runtime serves fp32 and int8"):
        ModelPool(ModelsConfig((ServedModel("broken", broken),))).load_at_start(strict=True)


def test_before_start_a_model_loaded_at_start_is_still_loading() -> None:
    pool = ModelPool(ModelsConfig((ServedModel("tiny", TINY),)))
    with pytest.raises(Unavailable, match="model tiny is still loading; retry shortly"):
        pool.get()
    assert pool.readiness() == ("loading", "model is loading")


def test_over_budget_the_least_recently_used_unloads_and_memory_stays_bounded(
    photo_model: ClipModel, photo_model_data_dir: Path
) -> None:
    """In a fresh process (tests/runtime/pool_memory.py), so its resident memory is the pool's alone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "tests.runtime.pool_memory", str(photo_model_data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    sizes, budget = result["sizes"], result["budget"]
    assert all(size > 0 for size in sizes.values()), sizes
    # Loading the int8 model over the budget unloaded the photo model, the least recently used; the tiny
    # model, used just before, stayed.
    assert result["loaded"] == ["tiny", "tiny-int8"]
    assert result["peak_growth"] <= budget + max(sizes.values()), result


def test_settings_give_the_default_first_and_the_extra_models_after() -> None:
    settings = Settings(model="pixembed-tiny", extra_models="efficientnet-lite0, pixembed-tiny", weights="w")  # type: ignore[arg-type]
    config = models_from_settings(settings)
    assert [m.name for m in config.models] == ["pixembed-tiny", "efficientnet-lite0"]
    # --weights names the default model's weights only.
    assert [m.options.weights for m in config.models] == [Path("w"), None]
    assert config.models[1].names == ("efficientnet-lite0",)
    # The name a collection of OpenAI's ViT-B-32 records finds it before it ever loads.
    vit = models_from_settings(Settings(model="ViT-B-32")).default
    assert vit.names == ("ViT-B-32", "ViT-B-32/openai")


def test_a_models_file_gives_each_model_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        'default = "photo"\n'
        '[[models]]\nname = "tiny"\nmodel = "pixembed-tiny"\naliases = ["ViT-B-32"]\nprecision = "int8"\n'
        '[[models]]\nname = "photo"\nmodel = "efficientnet-lite0"\nload = "lazy"\nweights = "w/lite0.pth"\n'
        '[sambastudio.endpoints]\n"p/e" = "ViT-B-32"\n'
    )
    config = read_models_file(path, LoadOptions(precision="auto", batch_size=8))
    photo, tiny = config.models
    assert (photo.name, photo.load, photo.options.model, photo.options.weights) == (
        "photo",
        "lazy",
        "efficientnet-lite0",
        tmp_path / "w" / "lite0.pth",
    )
    assert (tiny.options.precision, tiny.options.batch_size, tiny.aliases) == ("int8", 8, ("ViT-B-32",))
    assert config.sambastudio_model("p", "e") == "ViT-B-32"
    with pytest.raises(UnknownModel, match="SambaStudio endpoint 'p/x' is not served here; available: p/e"):
        config.sambastudio_model("p", "x")
    as_json = tmp_path / "models.json"
    as_json.write_text(json.dumps({"models": [{"name": "pixembed-tiny"}]}))
    assert read_models_file(as_json, LoadOptions()).default.options.model == "pixembed-tiny"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[models]]\nname = 'a'\nprecison = 'fp32'\n", "models.0.precison: Extra inputs are not permitted"),
        ("[[models]]\nname = 'a'\n[[models]]\nname = 'a'\n", "names a model twice: a, a"),
        ("default = 'b'\n[[models]]\nname = 'a'\n", "default 'b' is none of ['a']"),
        ("[[models]]\nname = 'a'\n[sambastudio.endpoints]\n'p/e' = 'z'\n", "names 'z', which is none"),
        ("models = [\n", "is not valid TOML"),
        ("", "models: Field required"),
    ],
)
def test_a_wrong_models_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(InvalidRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_models_file(path, LoadOptions())
