"""Map pixembed's error tree to HTTP statuses and one JSON error body: {"error", "message", "status"}."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixembed import error_statuses, errors
from pixembed.wire import ErrorBody

log = logging.getLogger(__name__)

# The error renderer of the service whose prefix holds a path (compatibility routes), or None.
RendererFor = Callable[[str], Callable[[errors.PixembedError], Response] | None]


def status_for(error: errors.PixembedError) -> int:
    """The HTTP status of a pixembed error, from the one table the client also reads."""
    return error_statuses.status_for(error)


def error_body(error: errors.PixembedError) -> dict[str, object]:
    """The JSON body every error response carries (``pixembed.wire.ErrorBody``, as in per-item errors)."""
    return ErrorBody.of(error).model_dump()


def error_response(error: errors.PixembedError) -> JSONResponse:
    """A JSON response for an error, with Retry-After where the client should come back later."""
    headers = {}
    if isinstance(error, errors.RateLimited | errors.Overloaded) and error.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_s)))
    elif isinstance(error, errors.Unavailable):
        headers["Retry-After"] = "5"
    return JSONResponse(error_body(error), status_code=status_for(error), headers=headers)


def unmatched_route(request: Request, exc: StarletteHTTPException) -> errors.PixembedError:
    """The 404 or 405 Starlette's router raised for ``request``, as an error that names what to do."""
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return errors.MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
        )
    return errors.NotFound(f"{request.method} {request.url.path} is not a route of this server")


def install_error_handlers(app: FastAPI, renderer_for: RendererFor = lambda _: None) -> None:
    """Register the handlers that give every failure the same JSON shape: pixembed's, except an unknown path
    or method under a compatibility service's prefix, which ``renderer_for`` answers in that service's."""

    async def on_pixembed_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.PixembedError)
        return error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: {err.get('msg')}"
            for err in exc.errors()
        ]
        body = {
            "error": "invalid_request",
            "message": "; ".join(problems) or "invalid request",
            "status": 400,
        }
        return JSONResponse(body, status_code=400)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, errors.PixembedError):
            # FastAPI wraps whatever stops it reading a body (the body cap, a read timeout) in a 400.
            return error_response(exc.__cause__)
        if exc.status_code in (404, 405) and (render := renderer_for(request.url.path)):
            # A client of a hosted service parses its service's error body, on a path it mistyped too.
            shaped = render(unmatched_route(request, exc))
            shaped.headers.update(exc.headers or {})
            return shaped
        codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        body = {"error": code, "message": str(exc.detail), "status": exc.status_code}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = {"error": "internal", "message": "internal server error; see the server log", "status": 500}
        return JSONResponse(body, status_code=500)

    app.add_exception_handler(errors.PixembedError, on_pixembed_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
