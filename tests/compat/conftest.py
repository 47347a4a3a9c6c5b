"""Fixtures for the compatibility routes: a keyed app, a real pixembed, an image server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.synthetic.shapes import render_shape
from tests.factories import MakeClient
from tests.helpers import encode
from tests.live_server import serve_in_thread

KEY = "test-key-0123456789"
OTHER_KEY = "second-key"


class ImageServer(ThreadingHTTPServer):
    """Serves ``files`` by path, so URL inputs stay on this machine."""

    daemon_threads = True
    files: dict[str, tuple[bytes, str]]


class ImageHandler(BaseHTTPRequestHandler):
    server: ImageServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body, content_type = self.server.files.get(self.path, (b"not here", "text/plain"))
        self.send_response(200 if self.path in self.server.files else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def two_shapes() -> Image.Image:
    """A 320x160 picture: a red circle on the left half, a blue square on the right half."""
    rng = np.random.default_rng(7)
    canvas = Image.new("RGB", (320, 160))
    canvas.paste(render_shape("circle", "red", size=160, rng=rng), (0, 0))
    canvas.paste(render_shape("square", "blue", size=160, rng=rng), (160, 0))
    return canvas


@pytest.fixture(scope="session")
def image_server(two_shapes: Image.Image) -> Iterator[str]:
    """Base URL of a loopback server with the same picture in several formats, and some non-images."""
    server = ImageServer(("127.0.0.1", 0), ImageHandler)
    server.files = {
        "/outfit.png": (encode(two_shapes, "PNG"), "image/png"),
        "/outfit.jpg": (encode(two_shapes, "JPEG", quality=95), "image/jpeg"),
        "/outfit.webp": (encode(two_shapes, "WEBP", lossless=True), "image/webp"),
        "/outfit.gif": (encode(two_shapes, "GIF"), "image/gif"),
        "/notes.txt": (b"these are not pixels", "text/plain"),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def keyed(settings: Settings) -> Settings:
    """``settings`` with two API keys configured and loopback URLs allowed (for the image server)."""
    return settings.model_copy(update={"api_keys": [KEY, OTHER_KEY], "allow_private_urls": True})


@pytest.fixture
def keyed_client(make_client: MakeClient, settings: Settings) -> TestClient:
    """The app in process, with keys configured."""
    return make_client(keyed(settings))


@pytest.fixture(scope="session")
def live_server(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real pixembed (uvicorn) on 127.0.0.1 with keys configured, shared by the session."""
    data_dir: Path = tmp_path_factory.mktemp("live-data")
    settings = keyed(Settings(model="pixembed-tiny", data_dir=data_dir))
    # Session-wide (the function-scoped serve_app cannot be), so served here with the same helper.
    with serve_in_thread(create_app(settings, tiny_model)) as url:
        yield url


@pytest.fixture(scope="session")
def tiny_dimensions(tiny_model: ClipModel) -> int:
    """The length of every vector the tiny model makes."""
    return tiny_model.info.dimensions
