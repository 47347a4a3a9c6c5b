"""SambaStudio CLIP endpoints: ``/api/predict/file/...`` (multipart ``predict_file``) and ``.../nlp/...``.

The key comes in a ``key`` header; the project and endpoint ids in the path name a SambaStudio deployment:
mapped to served models in the models file (``[sambastudio.endpoints]``), or, where none is mapped, all
served by the default model. Answers are ``{"data": [[...]]}`` plus the
``status_code`` the documented raw output shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from pixembed.api.auth import header_key
from pixembed.api.compat.shapes import compat_router, retry_headers, status_of
from pixembed.api.inputs import MULTIPART, Decoded, Upload
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PixembedError
from pixembed.runtime.pool import ModelPool
from pixembed.services.embedding import embed_all_images, embed_texts
from pixembed.services.inputs import ImageSource

SERVICE = "SambaStudio"


class SambaStudioFiles(BaseModel):
    """The images of ``/api/predict/file/...``: multipart files in ``predict_file`` (never JSON)."""

    model_config = ConfigDict(extra="forbid")

    predict_file: list[Upload]

    @model_validator(mode="before")
    @classmethod
    def _multipart_files(cls, data: Any, info: ValidationInfo) -> Any:
        if not (info.context or {}).get("form"):
            raise InvalidRequest(
                "send the image as multipart/form-data in the field 'predict_file' "
                "(SambaStudio takes no base64 JSON for images)"
            )
        if isinstance(data, dict) and not data.get("predict_file"):
            raise InvalidRequest("no image given: upload it as the multipart field 'predict_file'")
        return data

    def sources(self) -> list[ImageSource]:
        """The uploaded images, in order."""
        return [ImageSource("bytes", upload.data, upload.filename) for upload in self.predict_file]


PREDICT_FILE_BODY = Decoded(SambaStudioFiles, media=(MULTIPART,))


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


router = compat_router(
    SERVICE, render_error, header_key(SERVICE, "key"), SambaStudioError, prefix="/api/predict"
)


@router.post(
    "/file/{project}/{endpoint}",
    response_model=SambaStudioPrediction,
    openapi_extra=PREDICT_FILE_BODY.openapi,
)
async def sambastudio_predict_file(
    project: str,
    endpoint: str,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
    body: SambaStudioFiles = Depends(PREDICT_FILE_BODY),
) -> SambaStudioPrediction:
    """Embed the image(s) uploaded as ``predict_file``."""
    model = await models.get_async(models.config.sambastudio_model(project, endpoint))
    vectors = await embed_all_images(model, body.sources(), settings)
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
