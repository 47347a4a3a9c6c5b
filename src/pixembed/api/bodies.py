"""Read request bodies within limits: a streaming byte cap, multipart with a per-file cap, and JSON."""

from __future__ import annotations

import time
from typing import Any

import anyio
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixembed.api.errors import error_response
from pixembed.api.json_limits import parse_json
from pixembed.api.state import app_state
from pixembed.errors import (
    InvalidRequest,
    PayloadTooLarge,
    RequestTimeout,
    TooManyItems,
    UnsupportedMediaType,
)

MB = 1024 * 1024
BODY_BUDGET = "pixembed.body_budget"
_CAP_ADVICE = {
    "PIXEMBED_MAX_REQUEST_MB": "send fewer or smaller files",
    "PIXEMBED_MAX_JSON_MB": "send images as multipart/form-data files, or fewer items per request",
}


class BodyBudget:
    """How many body bytes one request may send: the cap for its content type, lowered by a route that
    wants less (``limit_body``); ``seen`` counts what has arrived so far."""

    def __init__(self, limit: int, setting: str, declared: int | None) -> None:
        self.limit = limit
        self.setting = setting
        self.advice = _CAP_ADVICE.get(setting, "")
        self.declared = declared
        self.seen = 0

    def lower(self, limit: int, setting: str, advice: str) -> None:
        """Cap this request at ``limit`` bytes if that is lower, and refuse it now if it is already over."""
        if limit < self.limit:
            self.limit, self.setting, self.advice = limit, setting, advice
        self.check()

    def check(self) -> None:
        """``PayloadTooLarge`` when the declared length or the bytes seen are over the cap."""
        if max(self.declared or 0, self.seen) > self.limit:
            advice = f"; {self.advice}" if self.advice else ""
            raise PayloadTooLarge(f"request body is over {self.limit / MB:.4g} MB ({self.setting}){advice}")


def limit_body(request: Request, max_bytes: int, setting: str, advice: str) -> None:
    """Lower this request's body cap before its body is read (a route that must read it before auth)."""
    budget = request.scope.get(BODY_BUDGET)
    if isinstance(budget, BodyBudget):
        budget.lower(max_bytes, setting, advice)


class BodyLimitMiddleware:
    """Cap request bodies and refuse slow ones, before any route (or auth) reads them.

    The cap is ``max_request_bytes`` for multipart bodies (files stream to disk) and ``max_json_bytes`` for
    every other body (parsed in memory); a Content-Length over it is a 413 before a byte is read, a stream
    that passes it is a 413 at once. While the route waits for the body, the client may pause at most
    ``read_timeout_s`` and must average ``min_rate`` bytes/s beyond its first ``read_timeout_s`` of waiting
    (Apache's mod_reqtimeout rule), else 408: one byte a second cannot hold a connection and a worker.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        max_json_bytes: int,
        read_timeout_s: float,
        min_rate: float,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_json_bytes = max_json_bytes
        self.read_timeout_s = read_timeout_s
        self.min_rate = min_rate

    def _budget(self, scope: Scope) -> BodyBudget:
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        declared = int(length) if length.isdigit() else None
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            return BodyBudget(self.max_request_bytes, "PIXEMBED_MAX_REQUEST_MB", declared)
        if self.max_json_bytes < self.max_request_bytes:
            return BodyBudget(self.max_json_bytes, "PIXEMBED_MAX_JSON_MB", declared)
        return BodyBudget(self.max_request_bytes, "PIXEMBED_MAX_REQUEST_MB", declared)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = self._budget(scope)
        try:
            budget.check()
        except PayloadTooLarge as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope[BODY_BUDGET] = budget
        # Only time spent waiting on the client counts: a route that reads its body late (after a queue,
        # say) does not make a prompt client look slow.
        waited = 0.0
        body_done = False

        async def guarded_receive() -> Message:
            nonlocal body_done, waited
            if body_done:  # past the body, receive() only waits for a disconnect: no deadline
                return await receive()
            allowed = self.read_timeout_s + budget.seen / self.min_rate
            wait = min(self.read_timeout_s, allowed - waited)
            message: Message | None = None
            if wait > 0:
                started = time.monotonic()
                with anyio.move_on_after(wait):
                    message = await receive()
                waited += time.monotonic() - started
            if message is None:
                raise _too_slow(self.read_timeout_s, self.min_rate)
            if message["type"] == "http.request":
                budget.seen += len(message.get("body", b""))
                budget.check()
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        await self.app(scope, guarded_receive, send)


def _too_slow(read_timeout_s: float, min_rate: float) -> RequestTimeout:
    return RequestTimeout(
        f"the request body arrived too slowly: pauses over {read_timeout_s:g} s (PIXEMBED_READ_TIMEOUT_S) "
        f"or under {min_rate / 1024:g} KB/s (PIXEMBED_BODY_MIN_RATE_KB) are cut off"
    )


class _CappedMultiPartParser(MultiPartParser):
    """Starlette's parser, plus a per-file byte cap checked while the file streams in.

    Starlette caps only non-file fields; without this a 2 GB "image" would be spooled to disk whole
    before any check could see its size.
    """

    def __init__(
        self, request: Request, *, max_files: int, max_file_bytes: int, max_fields: int, max_field_bytes: int
    ) -> None:
        super().__init__(
            request.headers,
            request.stream(),
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=max_field_bytes,
        )
        self._max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file_bytes:
                name = self._current_part.file.filename or self._current_part.field_name
                raise PayloadTooLarge(
                    f"file {name!r} is over {self._max_file_bytes / 1024 / 1024:g} MB "
                    "(PIXEMBED_MAX_UPLOAD_MB)"
                )
        super().on_part_data(data, start, end)


def is_multipart(request: Request) -> bool:
    """True for multipart/form-data requests."""
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_form(
    request: Request, *, max_files: int, max_file_bytes: int, too_many: str | None = None
) -> FormData:
    """Parse a multipart body, refusing too many files or fields, or an oversized one, while it streams.

    ``too_many`` is the message of the ``TooManyItems`` for more than ``max_files`` files, in the caller's
    words. The field limits come from the app's settings (PIXEMBED_MAX_FORM_FIELDS,
    PIXEMBED_MAX_FORM_FIELD_KB).
    """
    settings = app_state(request).settings
    max_field_bytes = int(settings.max_form_field_kb * 1024)
    parser = _CappedMultiPartParser(
        request,
        max_files=max_files,
        max_file_bytes=max_file_bytes,
        max_fields=settings.max_form_fields,
        max_field_bytes=max_field_bytes,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        message = str(exc)
        if "Too many files" in message:
            raise TooManyItems(
                too_many or f"too many files in one request; the limit is {max_files}"
            ) from exc
        if "Too many fields" in message:
            raise TooManyItems(
                f"too many form fields in one request; the limit is {settings.max_form_fields} "
                "(PIXEMBED_MAX_FORM_FIELDS)"
            ) from exc
        if "exceeded maximum size" in message:
            raise PayloadTooLarge(
                f"a form field is over {max_field_bytes:,} bytes (PIXEMBED_MAX_FORM_FIELD_KB); "
                "send large data as a file part"
            ) from exc
        raise InvalidRequest(f"malformed multipart body: {message}") from exc
    except KeyError as exc:  # no Content-Type boundary at all
        raise InvalidRequest("malformed multipart body: missing boundary") from exc


async def read_json(request: Request) -> Any:
    """Parse a JSON body, with a message that says what was wrong."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not accepted here: send application/json "
            "or multipart/form-data"
        )
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest("empty request body: send JSON or multipart/form-data")
    return parse_json(raw)
