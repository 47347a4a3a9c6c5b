"""A live pixembed server with the tiny model, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pixembed import Client
from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from tests.live_server import serve_in_thread


@pytest.fixture
def server_url(tiny_model: ClipModel, settings: Settings) -> Iterator[str]:
    """The base URL of a real server on loopback."""
    with serve_in_thread(create_app(settings, tiny_model)) as url:
        yield url


@pytest.fixture
def api(server_url: str) -> Iterator[Client]:
    """A blocking client for the live server."""
    with Client(server_url, timeout=30) as client:
        yield client
