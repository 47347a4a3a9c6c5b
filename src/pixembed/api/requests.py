"""Turn parsed request bodies (JSON or multipart form data) into service-layer inputs."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from pixembed.errors import InvalidRequest
from pixembed.services.inputs import ImageSource

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_body(model: type[ModelT], data: Any) -> ModelT:
    """Validate a JSON body against ``model``; every problem is named in one 400 message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()]
        raise InvalidRequest("invalid request body: " + "; ".join(problems)) from exc


async def form_image_sources(form: FormData, field: str | None) -> list[ImageSource]:
    """The uploaded files of ``field`` (or of every field when None), in the order they were sent."""
    sources = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and (field is None or key == field):
            sources.append(ImageSource("bytes", await value.read(), value.filename or key))
    return sources


def form_texts(form: FormData, *fields: str) -> list[str]:
    """The text values of the named fields, in order; files under those names are an error."""
    texts = []
    for key, value in form.multi_items():
        if key in fields:
            if isinstance(value, UploadFile):
                raise InvalidRequest(f"form field {key!r} must be text, not a file")
            texts.append(value)
    return texts


def form_model(form: FormData) -> str | None:
    """The ``model`` form field (a served model's name or alias), or None for the default."""
    values = form_texts(form, "model")
    return (values[0].strip() or None) if values else None


def form_int(form: FormData, name: str, default: int) -> int:
    """An integer form field, with a 400 that names it when it is not one."""
    raw = form.get(name)
    if raw is None:
        return default
    if isinstance(raw, UploadFile):
        raise InvalidRequest(f"form field {name!r} must be a number, not a file")
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise InvalidRequest(f"form field {name!r} must be an integer, got {raw[:40]!r}") from exc
