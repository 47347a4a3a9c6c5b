"""GET /v1/models, /healthz, /readyz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pixembed.api.results import models_answer
from pixembed.api.state import app_state
from pixembed.metrics import REGISTRY
from pixembed.wire import Health, ModelsResponse, Readiness

router = APIRouter(tags=["system"])


@router.get("/v1/models", response_model=ModelsResponse)
async def list_models_route(request: Request) -> ModelsResponse:
    """The default model, every served model, and every model/pretrained pair ``--model`` accepts."""
    models = app_state(request).models
    return models_answer(models.peek(), models.models())


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health()


NOT_READY = "the model is loading or failed to load, or the store does not answer"


def _not_ready(body: Readiness) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=503, headers={"Retry-After": "5"})


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses={503: {"model": Readiness, "description": NOT_READY}},
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    """Readiness: 200 once the model is loaded and the store answers, 503 before (or if either failed)."""
    app = app_state(request)
    models = app.models
    status, why = models.readiness()
    if status != "ready":
        return _not_ready(Readiness(status=status, message=why))
    try:
        await app.collections.answers()
    except Exception as exc:  # any failure of the store means "not ready", whatever its type
        return _not_ready(Readiness(status="store_unavailable", message=f"the store does not answer: {exc}"))
    model = models.peek()
    if model is None:  # a default loaded on first use: ready, its dimensions unknown until then
        return Readiness(status="ready", model=models.default_name)
    return Readiness(status="ready", model=model.info.name, dimensions=model.info.dimensions)


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics: requests, latencies, batch sizes, queue depth, model load time."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
