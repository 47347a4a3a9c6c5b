"""``create_app``: the FastAPI application, its state, middleware, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from pixembed import __version__
from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.errors import install_error_handlers
from pixembed.api.routes import compare, embed, search, system
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel

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
        yield

    app = FastAPI(
        title="pixembed",
        version=__version__,
        description="Self-hosted CLIP embeddings, zero-shot comparison and visual search.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model = model
    app.state.load_error = None
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    install_error_handlers(app)
    for router in (embed.router, compare.router, search.router, system.router):
        app.include_router(router)
    return app
