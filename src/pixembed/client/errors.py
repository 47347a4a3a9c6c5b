"""Raise a server's JSON error body as the pixembed error class it names, carrying the server's message."""

from __future__ import annotations

from typing import Any

from pixembed import errors

STATUS_FALLBACK: dict[int, type[errors.PixembedError]] = {
    400: errors.InvalidRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    422: errors.UndecodableImage,
    429: errors.RateLimited,
    503: errors.Unavailable,
}


def _classes_by_code() -> dict[str, type[errors.PixembedError]]:
    found: dict[str, type[errors.PixembedError]] = {}
    pending: list[type[errors.PixembedError]] = [errors.PixembedError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def error_from_body(body: Any, status: int, retry_after: str | None = None) -> errors.PixembedError:
    """The error a response stands for: the class its ``error`` code names, else the one for its status."""
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = f"HTTP {status}: {str(body)[:300]}"
    cls = _classes_by_code().get(code) if isinstance(code, str) else None
    if cls is None or cls is errors.PixembedError:
        cls = STATUS_FALLBACK.get(status, errors.PixembedError)
    wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
    if issubclass(cls, errors.Overloaded):
        return cls(message, wait if wait is not None else 1.0)
    if issubclass(cls, errors.RateLimited):
        return cls(message, wait)
    return cls(message)
