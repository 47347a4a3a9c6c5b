"""Raise a server's JSON error body as the pixembed error class it names, carrying the server's message.

A code the client does not know falls back to the class of its status, from the same table the server answers
with (``pixembed.error_statuses``)."""

from __future__ import annotations

from typing import Any

from pixembed import errors
from pixembed.error_statuses import class_for_status


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
