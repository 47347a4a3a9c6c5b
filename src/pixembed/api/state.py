"""The app's state, typed: settings, the services built at startup, and the model; and the dependencies
routes read it through."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.applications import Starlette

from pixembed.config import Settings
from pixembed.errors import Unavailable
from pixembed.imaging.budget import DecodePool
from pixembed.runtime.detection import ClipRegionDetector, Detector
from pixembed.runtime.model import ClipModel
from pixembed.services.analysis_service import AnalysisService
from pixembed.services.collection_service import CollectionService
from pixembed.services.key_service import KeyService
from pixembed.services.state import Services, open_services


@dataclass
class AppState:
    """Everything a running app holds: built once by ``create_app``, closed by its lifespan's end.

    ``model`` and ``detector`` may arrive later (loaded in the background); ``load_error`` and
    ``detector_error`` say why one did not.
    """

    settings: Settings
    services: Services
    decode_pool: DecodePool
    model: ClipModel | None = None
    load_error: str | None = None
    detector: Detector | None = None
    detector_error: str | None = None

    @classmethod
    def open(cls, settings: Settings, model: ClipModel | None, detector: Detector | None) -> AppState:
        """Open the state and stores and start the services (what cannot open fails here, before serving)."""
        return cls(
            settings=settings,
            services=open_services(settings, model.info if model is not None else None),
            decode_pool=DecodePool(settings.max_decoded_total_bytes, settings.decode_wait_s),
            model=model,
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
        """Stop the job runner, then close the stores and the state."""
        self.services.close()


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


def get_model(request: Request) -> ClipModel:
    """The loaded model, or 503 while it is still loading or failed to load."""
    state = app_state(request)
    if state.model is None:
        error = state.load_error
        raise Unavailable(
            f"model failed to load: {error}" if error else "model is still loading; retry shortly"
        )
    return state.model


def get_detector(request: Request) -> Detector:
    """The detector the server runs: the one loaded at start (OWLv2), else CLIP region scoring."""
    state = app_state(request)
    if state.detector is None:
        if state.detector_error:
            raise Unavailable(f"detector failed to load: {state.detector_error}")
        if state.settings.detector != "clip-regions":
            raise Unavailable("the detector is still loading; retry shortly")
        # Built on first use: it needs nothing but the loaded CLIP model.
        state.detector = ClipRegionDetector(get_model(request))
    return state.detector
