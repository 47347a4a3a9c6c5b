"""``create_app``: the FastAPI application, its state, middleware, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI

from pixembed import __version__
from pixembed.api import compat, web
from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.collection_schemas import AddItems, SearchCollection
from pixembed.api.errors import install_error_handlers
from pixembed.api.openapi import document_models
from pixembed.api.routes import collections, compare, embed, search, system
from pixembed.api.schemas import CompareRequest, EmbedRequest, SearchRequest
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.services.thumbnails import open_thumbnails
from pixembed.store import open_store

log = logging.getLogger(__name__)


def load_model_from_settings(settings: Settings) -> ClipModel:
    """Load the model the settings name (blocking)."""
    return load_model(
        settings.model,
        settings.pretrained,
        settings.weights,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        threads=settings.threads,
        download_timeout_s=settings.download_timeout_s,
    )


def create_app(settings: Settings | None = None, model: ClipModel | None = None) -> FastAPI:
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
        try:
            yield
        finally:
            app.state.store.close()
            app.state.thumbnails.close()

    app = FastAPI(
        title="pixembed",
        version=__version__,
        description="Self-hosted CLIP embeddings, zero-shot comparison and visual search.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model = model
    app.state.load_error = None
    # Opened here, not in lifespan, so a store that cannot open stops the app before it takes requests.
    app.state.store = open_store(settings.store_location)
    app.state.thumbnails = open_thumbnails(settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    install_error_handlers(app)
    # mSightFlow clients call the native embed and search routes with their Bearer key.
    for router in (embed.router, search.router):
        app.include_router(router, dependencies=[Depends(compat.msightflow.require_key)])
    for router in (compare.router, collections.router, system.router, *compat.ROUTERS):
        app.include_router(router)
    compat.msightflow.tag_routes(app)
    web.mount_web_page(app)
    document_models(app, [EmbedRequest, SearchRequest, CompareRequest, AddItems, SearchCollection])
    return app
