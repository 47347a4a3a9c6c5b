"""``create_app``: the FastAPI application, its state, middleware, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from pixembed import __version__
from pixembed.api import compat, web
from pixembed.api.auth import AuthSwitch
from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.collection_schemas import AddItems, SearchCollection
from pixembed.api.decode_budget import DecodeBudgetMiddleware
from pixembed.api.dedup_schemas import DOCUMENTED as DEDUP_BODIES
from pixembed.api.detect_schemas import DetectRequest
from pixembed.api.errors import install_error_handlers
from pixembed.api.middleware import DeadlineMiddleware, RequestContextMiddleware
from pixembed.api.openapi import document_models
from pixembed.api.origins import OriginPolicy, RequestOriginGuard, add_cors
from pixembed.api.routes import collections, compare, dedup, detect, embed, keys, search, system
from pixembed.api.schemas import CompareRequest, EmbedRequest, SearchRequest
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.imaging.budget import DecodePool
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.collections import open_collections
from pixembed.services.thumbnails import open_thumbnails
from pixembed.store.keys import KeyStore

log = logging.getLogger(__name__)


def load_detector_from_settings(settings: Settings) -> Detector | None:
    """The detector the settings name, loaded (blocking); None for CLIP region scoring, built on first use."""
    if settings.detector == "owlv2":
        from pixembed.runtime.detection.owlv2 import load_owlv2

        return load_owlv2(
            settings.detector_model, settings.detector_weights, download_timeout_s=settings.download_timeout_s
        )
    return None


def create_app(
    settings: Settings | None = None,
    model: ClipModel | None = None,
    detector: Detector | None = None,
    *,
    models: ModelPool | None = None,
) -> FastAPI:
    """Build the app; with no ``model`` given, the lifespan loads the models marked to load at start, and
    /readyz says when the default is ready."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(app.state.models.load_at_start)
        if app.state.detector is None and settings.detector != "clip-regions":
            try:
                app.state.detector = await anyio.to_thread.run_sync(load_detector_from_settings, settings)
            except PixembedError as exc:
                app.state.detector_error = exc.message
                log.error("detector did not load: %s", exc.message)
        try:
            yield
        finally:
            app.state.store.close()
            app.state.keys.close()
            app.state.thumbnails.close()
            app.state.models.close()
            if (jobs := getattr(app.state, "jobs", None)) is not None:
                jobs.close()

    # /docs and /redoc with Swagger UI and ReDoc served from the fastapi-offline package, not a CDN, so the
    # docs work on a machine with no network like the rest of the page.
    app = FastAPIOffline(
        title="pixembed",
        version=__version__,
        description="Self-hosted CLIP embeddings, zero-shot comparison and visual search.",
        lifespan=lifespan,
        static_url="/docs-assets",
        favicon_url="/favicon.ico",
    )
    app.state.settings = settings
    # Every served model (the default first), each loaded at start or on first use, within the memory
    # budget; ``model``, when given, is the default one, already loaded; ``models``, a pool the caller
    # built (and loaded: the CLI, failing fast before the port opens).
    app.state.models = models or ModelPool.from_settings(settings, model)
    app.state.detector = detector
    app.state.region_detectors = {}  # CLIP region scoring, one per served model (api/state.detector_for)
    app.state.detector_error = None
    # Opened here, not in lifespan, so a store that cannot open stops the app before it takes requests.
    app.state.store = open_collections(settings)
    app.state.keys = KeyStore(settings.key_store_path)
    app.state.auth = AuthSwitch(settings, app.state.keys)
    app.state.thumbnails = open_thumbnails(settings)
    # Outermost last: every request gets an id, metrics and a log line; CORS answers preflights and marks
    # responses for allowed origins; foreign Host headers and cross-site writes are refused; then the
    # deadline, then the body cap and read timeouts, all before any route reads a body or checks a key;
    # innermost, each request's decoded-pixel budget (and its share of the server's).
    app.state.decode_pool = DecodePool(settings.max_decoded_total_bytes, settings.decode_wait_s)
    app.add_middleware(
        DecodeBudgetMiddleware, pool=app.state.decode_pool, per_request_bytes=settings.max_decoded_bytes
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_json_bytes=settings.max_json_bytes,
        read_timeout_s=settings.read_timeout_s,
        min_rate=settings.body_min_rate_kb * 1024,
    )
    app.add_middleware(DeadlineMiddleware, timeout_s=settings.request_timeout_s)
    app.add_middleware(RequestOriginGuard, policy=OriginPolicy.from_settings(settings))
    add_cors(app, settings)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app, compat.error_renderer_for)
    # Each router declares its key scope (README, "Keys, limits and operations"): read for embedding and
    # searching, write for changing collections, admin for keys. Native routes take the key as Bearer
    # (mSightFlow's way) or x-api-key; the compatibility routers find it where their service sends it.
    # System routes stay open.
    # The scope dependencies sit on the routers, not here: AuthFirstRoute runs them before a body is read,
    # and FastAPI keeps dependencies given to include_router out of the route's own list.
    native = (embed.router, search.router, compare.router, dedup.router, detect.router, collections.router)
    for router in (*native, keys.router, system.router, *compat.ROUTERS):
        app.include_router(router)
    compat.msightflow.tag_routes(app)
    web.mount_web_page(app)
    documented: list[type[BaseModel]] = [
        EmbedRequest,
        SearchRequest,
        CompareRequest,
        AddItems,
        SearchCollection,
        DetectRequest,
        *DEDUP_BODIES,
    ]
    document_models(app, documented)
    return app
