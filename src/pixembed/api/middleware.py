"""ASGI middleware that covers every route: request ids, metrics, access logs, rate-limit headers, deadline.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, so responses stream through untouched and a
cancelled request cancels the route beneath it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixembed.api.errors import error_response
from pixembed.errors import DeadlineExceeded
from pixembed.logs import request_id_var
from pixembed.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("pixembed.access")
# Letters, digits and a few separators, as load balancers and tracing headers use; anything else
# (log injection, huge values) is replaced by a fresh id.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
UNMATCHED = "(unmatched)"
# Any other method string a client invents is counted under one label, so /metrics stays bounded.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane, else a new random one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def method_label(scope: Scope) -> str:
    """The request's method as a metrics label: a standard method, or ``other``."""
    method = str(scope["method"])
    return method if method in KNOWN_METHODS else OTHER_METHOD


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label set for metrics), or ``(unmatched)``."""
    route = scope.get("route")
    path: object = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestContextMiddleware:
    """Give each request an id (echoed as X-Request-ID), count and time it, and log one JSON line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                state: dict[str, Any] = scope.get("state") or {}
                for name, value in (state.get("rate_limit_headers") or {}).items():
                    headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            REQUESTS.labels(route=route, method=method_label(scope), status=str(status)).inc()
            REQUEST_SECONDS.labels(route=route).observe(elapsed)
            principal = (scope.get("state") or {}).get("principal")
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "key": getattr(principal, "name", None),
                },
            )
            request_id_var.reset(token)


class DeadlineMiddleware:
    """Cancel a request that runs past ``timeout_s`` and answer 504 if nothing was sent yet."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with anyio.move_on_after(self.timeout_s) as deadline:
            await self.app(scope, receive, tracking_send)
        if deadline.cancelled_caught and not started:
            # Work already handed to a worker thread finishes there; its result is dropped.
            error = DeadlineExceeded(
                f"the request took longer than {self.timeout_s:g} s (PIXEMBED_REQUEST_TIMEOUT_S); "
                "send fewer items per request or retry later"
            )
            await error_response(error)(scope, receive, send)
