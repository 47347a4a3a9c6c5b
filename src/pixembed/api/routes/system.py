"""GET /v1/models, /healthz, /readyz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pixembed.api.schemas import LoadedModel, ModelEntry, ModelsResponse
from pixembed.api.state import app_state
from pixembed.metrics import REGISTRY
from pixembed.runtime.registry import known_models

router = APIRouter(tags=["system"])


@router.get("/v1/models", response_model=ModelsResponse)
async def list_models_route(request: Request) -> ModelsResponse:
    """The loaded model, and every model/pretrained pair that ``--model``/``--pretrained`` accept."""
    model = app_state(request).model
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
            loaded=bool(model and model.info.name == k.id),
            text_tower=k.text_tower,
            description=k.description,
        )
        for k in known_models()
    ]
    return ModelsResponse(loaded=loaded, data=entries)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 once the model is loaded and the store answers, 503 before (or if either failed)."""
    state = app_state(request)
    model = state.model
    if model is None:
        error = state.load_error
        body = {"status": "failed" if error else "loading", "message": error or "model is loading"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    try:
        await state.collections.answers()
    except Exception as exc:  # any failure of the store means "not ready", whatever its type
        body = {"status": "store_unavailable", "message": f"the store does not answer: {exc}"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "model": model.info.name, "dimensions": model.info.dimensions})


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics: requests, latencies, batch sizes, queue depth, model load time."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
