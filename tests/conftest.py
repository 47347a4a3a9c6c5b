"""Shared fixtures: the bundled tiny model, loaded once, and the app built around it (in process or served on
loopback), with whichever settings a test changes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.detection import Detector
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.synthetic.shapes import caption, render_shape
from tests.factories import MakeApp, MakeClient, ServeApp
from tests.helpers import encode
from tests.live_server import serve_in_thread

pytest_plugins = ["tests.postgres"]


def pytest_configure(config: pytest.Config) -> None:
    """Starlette's TestClient (and schemathesis through it) sends ``Host: testserver`` and httpx's ASGI tests
    ``http://test``: names a pixembed server refuses (DNS rebinding protection). Set here, before collection,
    so every Settings the tests build allows them, module-level apps included; tests of the Host check
    itself set ``allowed_hosts`` explicitly."""
    os.environ["PIXEMBED_ALLOWED_HOSTS"] = "testserver,test"


@pytest.fixture(scope="session", autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The default data dir (ONNX exports, int8 copies) in a temp folder, never the user's."""
    before = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if before is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = before


@pytest.fixture(scope="session")
def tiny_model() -> ClipModel:
    """The committed pixembed-tiny model, through the same loader as real weights."""
    return load_model("pixembed-tiny")


@pytest.fixture(scope="session")
def photo_model_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir whose ONNX cache holds the photo model's export (made by ``photo_model``)."""
    return tmp_path_factory.mktemp("photo-model")


@pytest.fixture(scope="session")
def photo_model(photo_model_data_dir: Path) -> ClipModel:
    """The offline photo model (EfficientNet-Lite0 from its PyPI wheel), exported to ONNX once per session."""
    return load_model("efficientnet-lite0", data_dir=photo_model_data_dir)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings for the tiny model, with collections in a fresh folder."""
    return Settings(model="pixembed-tiny", data_dir=tmp_path / "data")


@pytest.fixture
def make_app(tiny_model: ClipModel, settings: Settings) -> MakeApp:
    """Builds the real app with the test's settings, changed as a test asks (see ``MakeApp``)."""

    def build(
        configured: Settings | None = None,
        /,
        *,
        model: ClipModel | None = tiny_model,
        detector: Detector | None = None,
        **changes: Any,
    ) -> FastAPI:
        chosen = configured or settings
        return create_app(chosen.model_copy(update=changes) if changes else chosen, model, detector)

    return build


@pytest.fixture
def make_client(make_app: MakeApp, tiny_model: ClipModel) -> Iterator[MakeClient]:
    """Opens in-process clients of the real app, each closed (its lifespan ended) when the test ends."""
    with ExitStack() as opened:

        def open_client(
            configured: Settings | None = None,
            /,
            *,
            model: ClipModel | None = tiny_model,
            detector: Detector | None = None,
            base_url: str = "http://testserver",
            lifespan: bool = True,
            **changes: Any,
        ) -> TestClient:
            app = make_app(configured, model=model, detector=detector, **changes)
            test_client = TestClient(app, base_url=base_url)
            return opened.enter_context(test_client) if lifespan else test_client

        yield open_client


@pytest.fixture
def serve_app(make_app: MakeApp, tiny_model: ClipModel) -> Iterator[ServeApp]:
    """Serves the real app on loopback (a uvicorn in a thread), each server stopped when the test ends."""
    with ExitStack() as running:

        def serve(
            configured: Settings | None = None, /, *, model: ClipModel | None = tiny_model, **changes: Any
        ) -> str:
            return running.enter_context(serve_in_thread(make_app(configured, model=model, **changes)))

        yield serve


@pytest.fixture
def server_url(serve_app: ServeApp) -> str:
    """The base URL of a real server with the tiny model on loopback."""
    return serve_app()


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """A client for the real app, in process, with the tiny model."""
    return make_client()


@pytest.fixture(scope="session")
def shape_images() -> dict[str, list[bytes]]:
    """Three PNGs for each of a few shape/colour captions, drawn by the repo's generator."""
    rng = np.random.default_rng(2024)
    captions: dict[str, list[bytes]] = {}
    for shape, colour in [("circle", "red"), ("square", "blue"), ("triangle", "green"), ("star", "yellow")]:
        captions[caption(shape, colour)] = [
            encode(render_shape(shape, colour, size=160, rng=rng)) for _ in range(3)
        ]
    return captions
