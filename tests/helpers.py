"""Small helpers the tests share."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    """An image's bytes in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose IHDR (with a correct CRC) claims ``width`` x ``height`` RGB."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 256))
        + png_chunk(b"IEND", b"")
    )


def is_native_operation(path: str, operation: dict[str, Any]) -> bool:
    """A native route's operation in /openapi.json: under /v1 (or a probe), with a tag of its own beside any
    compatibility service's (mSightFlow's /v1/embed is native and tagged both ways; its
    /v1/detect/zero-shot answers in mSightFlow's shape and carries only mSightFlow's tag)."""
    from pixembed.api.compat import apiclaw, coreviz, msightflow, roboflow, sambastudio

    services = {m.SERVICE for m in (apiclaw, coreviz, msightflow, roboflow, sambastudio)}
    return path.startswith(("/v1/", "/healthz", "/readyz")) and not set(operation.get("tags", [])) <= services
