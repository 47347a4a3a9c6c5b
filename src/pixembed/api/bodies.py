"""Read request bodies within limits: a streaming byte cap, multipart with a per-file cap, and JSON."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixembed.api.errors import error_response
from pixembed.api.json_limits import parse_json
from pixembed.errors import InvalidRequest, PayloadTooLarge, TooManyItems, UnsupportedMediaType


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` as soon as its Content-Length or its streamed bytes say so."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = error_response(_too_large(limit))
                await response(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body is over {limit / 1024 / 1024:g} MB (PIXEMBED_MAX_REQUEST_MB); "
        "send fewer or smaller files"
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


async def read_form(request: Request, *, max_files: int, max_file_bytes: int) -> FormData:
    """Parse a multipart body, refusing too many files or fields, or an oversized one, while it streams.

    The field limits come from the app's settings (PIXEMBED_MAX_FORM_FIELDS, PIXEMBED_MAX_FORM_FIELD_KB).
    """
    settings = request.app.state.settings
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
            raise TooManyItems(f"too many files in one request; the limit is {max_files}") from exc
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


async def upload_bytes(upload: UploadFile) -> bytes:
    """The bytes of an uploaded file (already size-checked by ``read_form``)."""
    return await upload.read()
