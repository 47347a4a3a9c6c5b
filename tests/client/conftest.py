"""A live pixembed server with the tiny model, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pixembed import Client


@pytest.fixture
def api(server_url: str) -> Iterator[Client]:
    """A blocking client for the live server."""
    with Client(server_url, timeout=30) as client:
        yield client
