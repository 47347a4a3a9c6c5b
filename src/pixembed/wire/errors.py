"""The JSON error body, {"error", "message", "status"}, and turning one back into pixembed's error class.

The server answers every failed request, and every failed item of a batch, with this body; the client raises
it as the class its ``error`` code names. A code the client does not know falls back to the class of its
status, from the same table the server answers with (``pixembed.error_statuses``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from pixembed import errors
from pixembed.error_statuses import class_for_status, status_for


class ErrorBody(BaseModel):
    """Every error response, and every failed item in a batch; built from an error as ``ErrorBody.of(e)``
    (or given the error itself where a model expects one)."""

    error: str
    message: str
    status: int

    @model_validator(mode="before")
    @classmethod
    def _from_error(cls, value: Any) -> Any:
        if isinstance(value, errors.PixembedError):
            return {"error": value.code, "message": value.message, "status": status_for(value)}
        return value

    @classmethod
    def of(cls, error: errors.PixembedError) -> ErrorBody:
        """The body that answers ``error``."""
        return cls.model_validate(error)

    def exception(self) -> errors.PixembedError:
        """This body as the error it stands for, to raise."""
        return error_from_body(self.model_dump(), self.status)


def error_from_body(body: Any, status: int, retry_after: str | None = None) -> errors.PixembedError:
    """The error a response stands for: the class its ``error`` code names, else the one for its status."""
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = f"HTTP {status}: {str(body)[:300]}"
    cls = errors.error_class(code) if isinstance(code, str) else errors.PixembedError
    if cls is errors.PixembedError:
        cls = class_for_status(status)
    wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
    if issubclass(cls, errors.Overloaded):
        return cls(message, wait if wait is not None else 1.0)
    if issubclass(cls, errors.RateLimited):
        return cls(message, wait)
    return cls(message)
