"""Bytes from the ways a caller can hand over an image inline: base64 text, data URIs, streamed bodies."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterable

from pixembed.errors import InvalidRequest, PayloadTooLarge

_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")
# Line breaks every 64 or 76 characters (PEM, MIME) add a few percent; a string more than twice the
# size its payload may encode to is refused before anything scans it.
_WHITESPACE_SLACK = 2


def decode_base64_image(text: str, *, max_bytes: int) -> bytes:
    """The bytes encoded in ``text``: raw base64 (standard or URL-safe, padding optional) or a data URI."""
    payload = _strip_data_uri(text.strip())
    if len(payload) > _WHITESPACE_SLACK * _encoded_length(max_bytes):
        raise PayloadTooLarge(_too_large_message(max_bytes))
    compact = "".join(payload.split())
    if not compact:
        raise InvalidRequest("the base64 image is empty")
    if len(compact.rstrip("=")) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(_too_large_message(max_bytes))
    if not compact.isascii():
        raise InvalidRequest("the base64 image holds characters outside the base64 alphabet")
    standard = compact.translate(_URL_SAFE_TO_STANDARD).rstrip("=")
    if len(standard) % 4 == 1:
        raise InvalidRequest("the base64 image is not valid base64 (its length is impossible)")
    try:
        data = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error as exc:
        raise InvalidRequest(f"the base64 image is not valid base64: {exc}") from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(_too_large_message(max_bytes))
    return data


async def read_limited(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """Join streamed chunks, raising ``PayloadTooLarge`` as soon as their total passes ``max_bytes``."""
    buffer = bytearray()
    async for chunk in chunks:
        if len(buffer) + len(chunk) > max_bytes:
            raise PayloadTooLarge(_too_large_message(max_bytes))
        buffer += chunk
    return bytes(buffer)


def _strip_data_uri(text: str) -> str:
    """The payload of a ``data:`` URI (which must be base64), or ``text`` itself when it is not one."""
    if text[:5].lower() != "data:":
        return text
    header, comma, payload = text.partition(",")
    if not comma:
        raise InvalidRequest("the data URI has no ',' before its data")
    parameters = [part.strip().lower() for part in header[5:].split(";")]
    if parameters[-1] != "base64":
        raise InvalidRequest("only base64 data URIs are accepted (data:image/...;base64,...)")
    return payload


def _encoded_length(decoded_bytes: int) -> int:
    """How many base64 characters encode ``decoded_bytes`` bytes, padding included."""
    return 4 * ((decoded_bytes + 2) // 3)


def _too_large_message(max_bytes: int) -> str:
    """One wording for every over-the-limit refusal."""
    return f"the image is larger than the limit of {max_bytes:,} bytes ({max_bytes / 1048576:.1f} MiB)"
