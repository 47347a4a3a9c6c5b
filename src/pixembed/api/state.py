"""What routes read from ``app.state``: the settings, the model pool, the store, the detector."""

from __future__ import annotations

from fastapi import Request

from pixembed.config import Settings
from pixembed.errors import Unavailable
from pixembed.runtime.detection import ClipRegionDetector, Detector
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.store import VectorStore
from pixembed.store.thumbnails import ThumbnailStore


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_models(request: Request) -> ModelPool:
    """The served models; a route picks one with ``await models.get_async(body.model)``."""
    models: ModelPool = request.app.state.models
    return models


async def get_model(request: Request) -> ClipModel:
    """The default model (loaded on first use if it is not in memory); 503 while it is still loading or
    after it failed to load."""
    return await get_models(request).get_async(None)


def get_store(request: Request) -> VectorStore:
    """The collection store, opened when the app started."""
    store: VectorStore = request.app.state.store
    return store


async def get_detector(request: Request) -> Detector:
    """The detector the server runs: the one loaded at start (OWLv2), else CLIP region scoring with the
    default model."""
    return await detector_for(request, None)


async def detector_for(request: Request, requested: str | None) -> Detector:
    """The detector for a request naming the served model ``requested`` (None: the default): the one loaded
    at start (OWLv2, which uses no CLIP model), else CLIP region scoring with that model."""
    detector: Detector | None = request.app.state.detector
    if detector is not None:
        return detector
    error: str | None = getattr(request.app.state, "detector_error", None)
    if error:
        raise Unavailable(f"detector failed to load: {error}")
    if get_settings(request).detector != "clip-regions":
        raise Unavailable("the detector is still loading; retry shortly")
    model = await get_models(request).get_async(requested)
    # Built on first use, one per model: it needs nothing but that CLIP model (and is rebuilt after the
    # model was unloaded and loaded again).
    built: dict[str, Detector] = request.app.state.region_detectors
    found = built.get(model.info.name)
    if found is None or getattr(found, "model", None) is not model:
        found = built[model.info.name] = ClipRegionDetector(model)
    return found


def get_thumbnails(request: Request) -> ThumbnailStore:
    """The thumbnail store beside the collection store."""
    thumbnails: ThumbnailStore = request.app.state.thumbnails
    return thumbnails
