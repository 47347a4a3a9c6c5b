"""``create_app``: the FastAPI application, its state, middleware, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from pixembed import __version__
from pixembed.api import compat, web
from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.decode_budget import DecodeBudgetMiddleware
from pixembed.api.errors import install_error_handlers
from pixembed.api.middleware import DeadlineMiddleware, RequestContextMiddleware
from pixembed.api.openapi import document_models
from pixembed.api.origins import OriginPolicy, RequestOriginGuard, add_cors
from pixembed.api.routes import collections, compare, dedup, detect, embed, keys, search, system
from pixembed.api.state import AppState
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.state import agree_with_replicas

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

    # Opened here, not in lifespan, so a state or store that cannot open (or a model other than the other
    # replicas') stops the app before it takes requests.
    state = AppState.open(settings, model, detector, models)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        given = state.models.peek(None)  # a model given to create_app was agreed in AppState.open
        await anyio.to_thread.run_sync(state.models.load_at_start)
        default = state.models.peek(None)
        # The default model, once loaded here, is recorded on (or checked against) a shared state's replicas.
        if default is not None and default is not given:
            await anyio.to_thread.run_sync(agree_with_replicas, state.services.state, default.info)
        if state.detector is None and settings.detector != "clip-regions":
            try:
                state.detector = await anyio.to_thread.run_sync(load_detector_from_settings, settings)
            except PixembedError as exc:
                state.detector_error = exc.message
                log.error("detector did not load: %s", exc.message)
        try:
            yield
        finally:
            state.close()

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
    app.state.pixembed = state
    # Outermost last: every request gets an id, metrics and a log line; CORS answers preflights and marks
    # responses for allowed origins; foreign Host headers and cross-site writes are refused; then the
    # deadline, then the body cap and read timeouts, all before any route reads a body or checks a key;
    # innermost, each request's decoded-pixel budget (and its share of the server's).
    app.add_middleware(
        DecodeBudgetMiddleware, pool=state.decode_pool, per_request_bytes=settings.max_decoded_bytes
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
    routers = (*native, keys.router, system.router, *compat.ROUTERS)
    for router in routers:
        app.include_router(router)
    compat.msightflow.tag_routes(app)
    web.mount_web_page(app)
    document_models(app, routers)
    return app
