"""The types of the app fixtures in tests/conftest.py (``make_app``, ``make_client``, ``serve_app``), for the
tests that annotate them."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.testclient import TestClient

from pixembed.config import Settings
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel


class MakeApp(Protocol):
    """Builds the real app: from ``configured`` (default: the test's ``settings``) with ``changes`` applied,
    serving ``model`` (default: the tiny model; None: the lifespan loads the configured one)."""

    def __call__(
        self,
        configured: Settings | None = None,
        /,
        *,
        model: ClipModel | None = ...,
        detector: Detector | None = None,
        **changes: Any,
    ) -> FastAPI: ...


class MakeClient(Protocol):
    """An in-process client of an app that ``make_app`` builds from the same arguments, its lifespan run
    (``lifespan=False``: never started) and closed when the test ends."""

    def __call__(
        self,
        configured: Settings | None = None,
        /,
        *,
        model: ClipModel | None = ...,
        detector: Detector | None = None,
        base_url: str = "http://testserver",
        lifespan: bool = True,
        **changes: Any,
    ) -> TestClient: ...


class ServeApp(Protocol):
    """The base URL of an app that ``make_app`` builds from the same arguments, served by uvicorn on
    127.0.0.1 until the test ends."""

    def __call__(
        self, configured: Settings | None = None, /, *, model: ClipModel | None = ..., **changes: Any
    ) -> str: ...
