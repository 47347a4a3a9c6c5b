"""``create_app``: the FastAPI application, its state, middleware, routers and error handlers."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from pixembed import __version__
from pixembed.api import compat, web
from pixembed.api.auth import require_scope, scope_by_route
from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.collection_schemas import AddItems, SearchCollection
from pixembed.api.decode_budget import DecodeBudgetMiddleware
from pixembed.api.dedup_schemas import DOCUMENTED as DEDUP_BODIES
from pixembed.api.detect_schemas import DetectRequest
from pixembed.api.errors import install_error_handlers
from pixembed.api.middleware import DeadlineMiddleware, RequestContextMiddleware
from pixembed.api.openapi import document_models
from pixembed.api.routes import collections, compare, dedup, detect, embed, keys, search, system
from pixembed.api.schemas import CompareRequest, EmbedRequest, SearchRequest
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.imaging.budget import DecodePool
from pixembed.metrics import MODEL_LOAD_SECONDS
from pixembed.runtime.detection import Detector
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.services.collections import open_collections
from pixembed.services.thumbnails import open_thumbnails
from pixembed.store.keys import KeyStore

log = logging.getLogger(__name__)


def load_model_from_settings(settings: Settings) -> ClipModel:
    """Load the model the settings name (blocking), recording how long it took."""
    started = time.perf_counter()
    model = load_model(
        settings.model,
        settings.pretrained,
        settings.weights,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        batch_wait_ms=settings.batch_wait_ms,
        max_queue_items=settings.max_queue_items,
        text_cache_size=settings.text_cache_size,
        threads=settings.threads,
        download_timeout_s=settings.download_timeout_s,
    )
    MODEL_LOAD_SECONDS.set(time.perf_counter() - started)
    return model


# Collection routes that change data; every other collection route (GET, search) reads.
COLLECTION_SCOPES = scope_by_route(
    {("POST", "/v1/collections"), ("POST", "/v1/collections/{name}/items"), ("DELETE", "*")}
)


def load_detector_from_settings(settings: Settings) -> Detector | None:
    """The detector the settings name, loaded (blocking); None for CLIP region scoring, built on first use."""
    if settings.detector == "owlv2":
        from pixembed.runtime.detection.owlv2 import load_owlv2

        return load_owlv2(
            settings.detector_model, settings.detector_weights, download_timeout_s=settings.download_timeout_s
        )
    return None


def create_app(
    settings: Settings | None = None, model: ClipModel | None = None, detector: Detector | None = None
) -> FastAPI:
    """Build the app; with no ``model`` given, it loads one in the background and /readyz says when."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.model is None:
            try:
                app.state.model = await anyio.to_thread.run_sync(load_model_from_settings, settings)
            except PixembedError as exc:
                app.state.load_error = exc.message
                log.error("model did not load: %s", exc.message)
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
            if (jobs := getattr(app.state, "jobs", None)) is not None:
                jobs.close()

    app = FastAPI(
        title="pixembed",
        version=__version__,
        description="Self-hosted CLIP embeddings, zero-shot comparison and visual search.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model = model
    app.state.load_error = None
    app.state.detector = detector
    app.state.detector_error = None
    # Opened here, not in lifespan, so a store that cannot open stops the app before it takes requests.
    app.state.store = open_collections(settings)
    app.state.keys = KeyStore(settings.key_store_path)
    app.state.thumbnails = open_thumbnails(settings)
    # Outermost last: every request gets an id, metrics and a log line, then the deadline, then the cap.
    app.state.decode_pool = DecodePool(settings.max_decoded_total_bytes, settings.decode_wait_s)
    app.add_middleware(
        DecodeBudgetMiddleware, pool=app.state.decode_pool, per_request_bytes=settings.max_decoded_bytes
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(DeadlineMiddleware, timeout_s=settings.request_timeout_s)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    # Scopes (see CONTRACTS.md): read for embedding and searching, write for changing collections,
    # admin for keys. Native routes take the key as Bearer (mSightFlow's way) or x-api-key; the
    # compatibility routers find it where their service sends it. System routes stay open.
    read = [Depends(require_scope("read"))]
    for router in (embed.router, search.router, compare.router, dedup.router, detect.router):
        app.include_router(router, dependencies=read)
    app.include_router(collections.router, dependencies=[Depends(require_scope(COLLECTION_SCOPES))])
    app.include_router(keys.router, dependencies=[Depends(require_scope("admin"))])
    for router in (system.router, *compat.ROUTERS):
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
