"""SambaStudio CLIP endpoints: ``/api/predict/file/...`` (multipart ``predict_file``) and ``.../nlp/...``.

The key comes in a ``key`` header; the project and endpoint ids in the path name a SambaStudio deployment:
mapped to served models in the models file (``[sambastudio.endpoints]``), or, where none is mapped, all
served by the default model. Answers are ``{"data": [[...]]}`` plus the
``status_code`` the documented raw output shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from pixembed.api.auth import header_key
from pixembed.api.bodies import is_multipart, read_form
from pixembed.api.compat.shapes import retry_headers, shaped_route, status_of
from pixembed.api.requests import form_image_sources
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PixembedError
from pixembed.runtime.pool import ModelPool
from pixembed.services.embedding import embed_all_images, embed_texts

SERVICE = "SambaStudio"

PREDICT_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"predict_file": {"type": "string", "format": "binary"}},
                    "required": ["predict_file"],
                }
            }
        },
    }
}


class SambaStudioError(BaseModel):
    """The error body: the HTTP status again, and what went wrong."""

    status_code: int
    error: str


class SambaStudioTextRequest(BaseModel):
    """Texts to embed."""

    model_config = ConfigDict(extra="ignore")

    inputs: str | list[str]


class SambaStudioPrediction(BaseModel):
    """One embedding per input, and the status code echoed as the documented raw output shows."""

    data: list[list[float]]
    status_code: int = 200


def render_error(error: PixembedError) -> JSONResponse:
    """A pixembed error in SambaStudio's output shape."""
    status = status_of(error)
    body = SambaStudioError(status_code=status, error=error.message)
    return JSONResponse(body.model_dump(), status_code=status, headers=retry_headers(error))


router = APIRouter(
    prefix="/api/predict",
    tags=[SERVICE],
    route_class=shaped_route(render_error),
    dependencies=[Depends(header_key(SERVICE, "key"))],
    responses={status: {"model": SambaStudioError} for status in (400, 401, 413, 415, 422, 503)},
)


@router.post(
    "/file/{project}/{endpoint}", response_model=SambaStudioPrediction, openapi_extra=PREDICT_FILE_BODY
)
async def sambastudio_predict_file(
    request: Request,
    project: str,
    endpoint: str,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> SambaStudioPrediction:
    """Embed the image(s) uploaded as ``predict_file``."""
    model = await models.get_async(models.config.sambastudio_model(project, endpoint))
    if not is_multipart(request):
        raise InvalidRequest(
            "send the image as multipart/form-data in the field 'predict_file' "
            "(SambaStudio takes no base64 JSON for images)"
        )
    form = await read_form(
        request, max_files=settings.max_batch_items, max_file_bytes=settings.max_upload_bytes
    )
    sources = await form_image_sources(form, "predict_file")
    if not sources:
        raise InvalidRequest("no image given: upload it as the multipart field 'predict_file'")
    vectors = await embed_all_images(model, sources, settings)
    return SambaStudioPrediction(data=vectors.tolist())


@router.post("/nlp/{project}/{endpoint}", response_model=SambaStudioPrediction)
async def sambastudio_predict_nlp(
    project: str,
    endpoint: str,
    body: SambaStudioTextRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> SambaStudioPrediction:
    """Embed the texts in ``inputs``."""
    model = await models.get_async(models.config.sambastudio_model(project, endpoint))
    texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
    vectors = await embed_texts(model, texts, settings)
    return SambaStudioPrediction(data=vectors.tolist())
