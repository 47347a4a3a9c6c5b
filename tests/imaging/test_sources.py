"""Inline image sources: base64 in its common spellings, data URIs, and size limits on streamed bodies."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import pytest

from pixembed.errors import InvalidRequest, PayloadTooLarge
from pixembed.imaging import decode_base64_image, read_limited

# 0xfb/0xff bytes encode to '+' and '/' (standard) or '-' and '_' (URL-safe); 301 bytes need padding.
PAYLOAD = bytes([0xFB, 0xFF, 0xBF]) * 40 + b"\x89PNG\r\n\x1a\n" + bytes(range(169))


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(PAYLOAD).decode(),
        base64.encodebytes(PAYLOAD).decode(),  # MIME: a newline every 76 characters
        base64.urlsafe_b64encode(PAYLOAD).decode(),
        base64.urlsafe_b64encode(PAYLOAD).decode().rstrip("="),
        base64.b64encode(PAYLOAD).decode().rstrip("="),
        "  \r\n" + base64.b64encode(PAYLOAD).decode() + "\r\n\t",
        "data:image/png;base64," + base64.b64encode(PAYLOAD).decode(),
        "DATA:IMAGE/PNG;BASE64," + base64.b64encode(PAYLOAD).decode(),
        "data:image/png;name=cat.png;base64," + base64.encodebytes(PAYLOAD).decode(),
        "data:;base64," + base64.urlsafe_b64encode(PAYLOAD).decode().rstrip("="),
    ],
    ids=[
        "standard",
        "mime-lines",
        "urlsafe",
        "urlsafe-unpadded",
        "unpadded",
        "whitespace",
        "data-uri",
        "data-uri-upper",
        "data-uri-params",
        "data-uri-no-type",
    ],
)
def test_every_common_spelling_decodes_to_the_same_bytes(text: str) -> None:
    assert "+" in base64.b64encode(PAYLOAD).decode()  # the alphabets really differ for this payload
    assert decode_base64_image(text, max_bytes=len(PAYLOAD)) == PAYLOAD


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("data:image/png;base64,", "empty"),
        ("this is not base64!", "not valid base64"),
        ("abcde", "length is impossible"),
        ("ab=c", "not valid base64"),
        ("aGVsbG8gd29ybGQ=é", "outside the base64 alphabet"),
        ("data:image/png,%89PNG", "only base64 data URIs"),
        ("data:image/png;base64", "no ','"),
    ],
)
def test_invalid_base64_is_an_invalid_request_that_says_why(text: str, complaint: str) -> None:
    with pytest.raises(InvalidRequest, match=complaint) as caught:
        decode_base64_image(text, max_bytes=1000)
    assert not isinstance(caught.value, PayloadTooLarge)


def test_exactly_at_the_limit_passes_and_one_byte_over_is_too_large() -> None:
    text = base64.b64encode(PAYLOAD).decode()
    assert decode_base64_image(text, max_bytes=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(PayloadTooLarge):
        decode_base64_image(text, max_bytes=len(PAYLOAD) - 1)


def test_a_huge_string_is_refused_without_decoding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decoded a string that is obviously too large")

    monkeypatch.setattr(base64, "b64decode", no_decoding)
    huge = "QUFB" * 5_000_000  # 20 MB of text for a 1 MB limit
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge):
        decode_base64_image(huge, max_bytes=1_000_000)
    assert time.perf_counter() - started < 0.5


def test_whitespace_padding_cannot_hide_an_oversized_payload() -> None:
    text = base64.encodebytes(b"x" * 3000).decode()
    with pytest.raises(PayloadTooLarge):
        decode_base64_image(text, max_bytes=2999)


async def chunks_of(sizes: list[int], pulled: list[int]) -> AsyncIterator[bytes]:
    for index, size in enumerate(sizes):
        pulled.append(index)
        yield b"x" * size


@pytest.mark.anyio
async def test_read_limited_joins_chunks_under_the_limit() -> None:
    assert await read_limited(chunks_of([3, 4, 5], []), max_bytes=12) == b"x" * 12


@pytest.mark.anyio
async def test_read_limited_stops_at_the_chunk_that_crosses_the_limit() -> None:
    pulled: list[int] = []
    with pytest.raises(PayloadTooLarge):
        await read_limited(chunks_of([5, 5, 5, 5, 5], pulled), max_bytes=12)
    assert pulled == [0, 1, 2]
