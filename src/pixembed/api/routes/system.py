"""GET /v1/models, /healthz, /readyz and /metrics."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pixembed.api.schemas import LoadedModel, ModelEntry, ModelsResponse, ServedModelOut
from pixembed.api.state import get_models
from pixembed.metrics import REGISTRY
from pixembed.runtime.pool import PooledModel
from pixembed.runtime.registry import known_models
from pixembed.store import VectorStore

router = APIRouter(tags=["system"])


def _served(pooled: PooledModel) -> ServedModelOut:
    info = pooled.info
    return ServedModelOut(
        name=pooled.name,
        aliases=list(pooled.aliases),
        default=pooled.default,
        loaded=pooled.loaded,
        load="lazy" if pooled.load == "lazy" else "start",
        dimensions=info.dimensions if info is not None else None,
        text_tower=pooled.text_tower,
        runtime=info.runtime if info is not None else pooled.options.runtime,
        precision=info.precision if info is not None else pooled.options.precision,
        memory_mb=round(pooled.size_bytes / 2**20, 1) if pooled.size_bytes is not None else None,
        error=pooled.error,
    )


@router.get("/v1/models", response_model=ModelsResponse)
async def list_models_route(request: Request) -> ModelsResponse:
    """The default model, every served model, and every model/pretrained pair ``--model`` accepts."""
    models = get_models(request)
    served = models.models()
    model = models.peek()
    in_memory = {p.info.name for p in served if p.loaded and p.info is not None}
    loaded = (
        LoadedModel(
            model=model.info.name,
            dimensions=model.info.dimensions,
            runtime=model.info.runtime,
            precision=model.info.precision,
            min_cosine=model.info.min_cosine,
            device=model.info.device,
            text_tower=model.info.text_tower,
        )
        if model
        else None
    )
    entries = [
        ModelEntry(
            id=k.id,
            model=k.model,
            pretrained=k.pretrained,
            loaded=k.id in in_memory,
            text_tower=k.text_tower,
            description=k.description,
        )
        for k in known_models()
    ]
    return ModelsResponse(loaded=loaded, served=[_served(p) for p in served], data=entries)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 once the model is loaded and the store answers, 503 before (or if either failed)."""
    models = get_models(request)
    state, why = models.readiness()
    if state != "ready":
        return JSONResponse({"status": state, "message": why}, status_code=503, headers={"Retry-After": "5"})
    store: VectorStore = request.app.state.store
    try:
        await anyio.to_thread.run_sync(store.list_collections)
    except Exception as exc:  # any failure of the store means "not ready", whatever its type
        body = {"status": "store_unavailable", "message": f"the store does not answer: {exc}"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    model = models.peek()
    ready = {"status": "ready", "model": model.info.name if model else models.default_name}
    return JSONResponse(ready | ({"dimensions": model.info.dimensions} if model else {}))


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics: requests, latencies, batch sizes, queue depth, model load time."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
