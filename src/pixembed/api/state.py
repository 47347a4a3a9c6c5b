"""What routes read from ``app.state``: the settings and the loaded model."""

from __future__ import annotations

from fastapi import Request

from pixembed.config import Settings
from pixembed.errors import Unavailable
from pixembed.runtime.detection import ClipRegionDetector, Detector
from pixembed.runtime.model import ClipModel
from pixembed.store import VectorStore
from pixembed.store.thumbnails import ThumbnailStore


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_model(request: Request) -> ClipModel:
    """The loaded model, or 503 while it is still loading or failed to load."""
    model: ClipModel | None = request.app.state.model
    if model is None:
        error: str | None = request.app.state.load_error
        raise Unavailable(
            f"model failed to load: {error}" if error else "model is still loading; retry shortly"
        )
    return model


def get_store(request: Request) -> VectorStore:
    """The collection store, opened when the app started."""
    store: VectorStore = request.app.state.store
    return store


def get_detector(request: Request) -> Detector:
    """The detector the server runs: the one loaded at start (OWLv2), else CLIP region scoring."""
    detector: Detector | None = request.app.state.detector
    if detector is None:
        error: str | None = getattr(request.app.state, "detector_error", None)
        if error:
            raise Unavailable(f"detector failed to load: {error}")
        if get_settings(request).detector != "clip-regions":
            raise Unavailable("the detector is still loading; retry shortly")
        # Built on first use: it needs nothing but the loaded CLIP model.
        detector = ClipRegionDetector(get_model(request))
        request.app.state.detector = detector
    return detector


def get_thumbnails(request: Request) -> ThumbnailStore:
    """The thumbnail store beside the collection store."""
    thumbnails: ThumbnailStore = request.app.state.thumbnails
    return thumbnails
