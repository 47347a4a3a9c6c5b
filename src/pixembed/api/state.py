"""The app's state, typed: settings, the services built at startup, the served models and the detector;
and the dependencies routes read it through."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from starlette.applications import Starlette

from pixembed.config import Settings
from pixembed.errors import Unavailable
from pixembed.imaging.budget import DecodePool
from pixembed.runtime.detection import ClipRegionDetector, Detector
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.analysis_service import AnalysisService
from pixembed.services.collection_service import CollectionService
from pixembed.services.key_service import KeyService
from pixembed.services.state import Services, open_services


@dataclass
class AppState:
    """Everything a running app holds: built once by ``create_app``, closed by its lifespan's end.

    ``models`` serves every configured model (the default first), each loaded at start or on first use
    within the memory budget. ``detector`` is the one loaded at start (OWLv2), or None for CLIP region
    scoring, built per served model on first use; ``detector_error`` says why a loaded one did not load.
    """

    settings: Settings
    services: Services
    models: ModelPool
    decode_pool: DecodePool
    detector: Detector | None = None
    detector_error: str | None = None
    region_detectors: dict[str, Detector] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        settings: Settings,
        model: ClipModel | None,
        detector: Detector | None,
        models: ModelPool | None = None,
    ) -> AppState:
        """Open the state and stores and start the services (what cannot open fails here, before serving).

        ``model``, when given, is the default model, already loaded; ``models``, a pool the caller built
        (and loaded: the CLI, failing fast before the port opens)."""
        pool = models or ModelPool.from_settings(settings, model)
        return cls(
            settings=settings,
            services=open_services(settings, pool),
            models=pool,
            decode_pool=DecodePool(settings.max_decoded_total_bytes, settings.decode_wait_s),
            detector=detector,
        )

    @property
    def collections(self) -> CollectionService:
        """Collections, their items and thumbnails."""
        return self.services.collections

    @property
    def analysis(self) -> AnalysisService:
        """Dedup, clustering and their jobs."""
        return self.services.analysis

    @property
    def keys(self) -> KeyService:
        """The API keys and their counters."""
        return self.services.keys

    def close(self) -> None:
        """Stop the job runner, close the stores and the state, then unload the models."""
        self.services.close()
        self.models.close()


def state_of(app: Starlette) -> AppState:
    """The ``AppState`` that ``create_app`` put on ``app``."""
    state: AppState = app.state.pixembed
    return state


def app_state(request: Request) -> AppState:
    """The state of the app serving ``request``."""
    return state_of(request.app)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return app_state(request).settings


def get_collections(request: Request) -> CollectionService:
    """The collections (and their thumbnails)."""
    return app_state(request).collections


def get_analysis(request: Request) -> AnalysisService:
    """Dedup, clustering and their jobs."""
    return app_state(request).analysis


def get_keys(request: Request) -> KeyService:
    """The API keys."""
    return app_state(request).keys


def get_models(request: Request) -> ModelPool:
    """The served models; a route picks one with ``await models.get_async(body.model)``."""
    return app_state(request).models


async def get_model(request: Request) -> ClipModel:
    """The default model (loaded on first use if it is not in memory); 503 while it is still loading or
    after it failed to load."""
    return await get_models(request).get_async(None)


async def get_detector(request: Request) -> Detector:
    """The detector the server runs: the one loaded at start (OWLv2), else CLIP region scoring with the
    default model."""
    return await detector_for(request, None)


async def detector_for(request: Request, requested: str | None) -> Detector:
    """The detector for a request naming the served model ``requested`` (None: the default): the one loaded
    at start (OWLv2, which uses no CLIP model), else CLIP region scoring with that model."""
    state = app_state(request)
    if state.detector is not None:
        return state.detector
    if state.detector_error:
        raise Unavailable(f"detector failed to load: {state.detector_error}")
    if state.settings.detector != "clip-regions":
        raise Unavailable("the detector is still loading; retry shortly")
    model = await state.models.get_async(requested)
    # Built on first use, one per model: it needs nothing but that CLIP model (and is rebuilt after the
    # model was unloaded and loaded again).
    found = state.region_detectors.get(model.info.name)
    if found is None or getattr(found, "model", None) is not model:
        found = state.region_detectors[model.info.name] = ClipRegionDetector(model)
    return found
