"""What every compatibility router shares: failures answered in the service's own error body."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from pixembed.api.auth import AuthFirstRoute
from pixembed.api.errors import error_response, status_for
from pixembed.errors import InvalidRequest, PixembedError

ErrorRenderer = Callable[[PixembedError], Response]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The statuses pixembed's errors take on a compatibility route, documented with the service's error body.
ERROR_STATUSES = (400, 401, 413, 415, 422, 429, 503)


def shaped_route(render: ErrorRenderer) -> type[AuthFirstRoute]:
    """An ``APIRoute`` class whose failures, validation included, are answered by ``render``.

    The app-wide handlers answer in pixembed's native shape; a client of a hosted service parses its
    service's shape, so each compatibility router converts errors before they leave the route. Keys are
    checked before the body is read (``AuthFirstRoute``), and their errors are shaped too.
    """

    class ShapedRoute(AuthFirstRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def shaped(request: Request) -> Response:
                try:
                    return await handler(request)
                except PixembedError as exc:
                    return render(exc)
                except RequestValidationError as exc:
                    return render(InvalidRequest(validation_message(exc)))
                except HTTPException as exc:
                    # FastAPI wraps whatever stops it reading the body (such as the body-size cap) in a 400.
                    if isinstance(exc.__cause__, PixembedError):
                        return render(exc.__cause__)
                    if exc.status_code == 400:
                        # A body FastAPI could not parse at all (bytes that are not UTF-8, say).
                        return render(InvalidRequest(f"the request body could not be parsed: {exc.detail}"))
                    raise

            return shaped

    return ShapedRoute


def compat_router(
    service: str,
    render: ErrorRenderer,
    check_key: Callable[..., Any],
    error_model: type[BaseModel],
    prefix: str = "",
    statuses: Sequence[int] = ERROR_STATUSES,
) -> APIRouter:
    """A compatibility service's router: under its OpenAPI tag, keys checked by ``check_key``, failures
    rendered by ``render`` and documented as ``error_model`` bodies for each of ``statuses``."""
    return APIRouter(
        prefix=prefix,
        tags=[service],
        route_class=shaped_route(render),
        dependencies=[Depends(check_key)],
        responses={status: {"model": error_model} for status in statuses},
    )


def validation_message(exc: RequestValidationError) -> str:
    """One line naming every field FastAPI found wrong, without the ``body.`` prefix."""
    problems = []
    for err in exc.errors():
        kind = err.get("type")
        if kind == "json_invalid":
            problems.append(f"the body is not valid JSON: {err.get('ctx', {}).get('error', 'decode error')}")
        elif kind in ("model_attributes_type", "dict_type") and tuple(err.get("loc", ())) == ("body",):
            # FastAPI hands over raw bytes when the Content-Type is not JSON, so say what to send.
            problems.append("the body must be a JSON object sent with Content-Type: application/json")
        else:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg')}")
    return "invalid request: " + ("; ".join(problems) or "malformed body")


def status_of(error: PixembedError, overrides: Mapping[type[PixembedError], int] | None = None) -> int:
    """The native status of ``error``, unless the service documents another for its class."""
    for cls, status in (overrides or {}).items():
        if isinstance(error, cls):
            return status
    return status_for(error)


def retry_headers(error: PixembedError) -> dict[str, str]:
    """The Retry-After header pixembed sends for this error, if any, so shaped errors keep it."""
    native = error_response(error)
    return {"Retry-After": native.headers["retry-after"]} if "retry-after" in native.headers else {}


@dataclass(frozen=True)
class ServicePrefix:
    """The paths one service owns (``prefix`` itself and everything under ``prefix/``), and how it answers
    errors there: a 404 or 405 under them, which no route of the service raised, is rendered as well."""

    prefix: str
    render: ErrorRenderer

    def owns(self, path: str) -> bool:
        """Whether ``path`` is under this service's prefix (``/clipboard`` is not under ``/clip``)."""
        return path == self.prefix or path.startswith(self.prefix + "/")
