"""A corpus of hostile and malformed inputs, generated in code, each with the status pixembed documents.

Used by tests/api/test_hostile_inputs.py and listed in docs/hostile-inputs.md.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.helpers import encode, png_chunk, png_declaring


@dataclass(frozen=True)
class Case:
    """One upload: a name, its bytes, and the status and error code pixembed answers with."""

    name: str
    data: bytes
    status: int
    error: str | None


def _noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(width * 7919 + height)
    channels = {"RGB": 3, "RGBA": 4, "CMYK": 4}.get(mode, 1)
    shape = (height, width, channels) if channels > 1 else (height, width)
    return Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode if channels > 1 else "L")


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A valid small JPEG whose SOF0 marker is rewritten to declare ``width`` x ``height``."""
    data = bytearray(encode(_noise(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode(_noise(8, 8).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen, which Pillow reports as the size
    return bytes(data)


def _webp_vp8x_declaring(width: int, height: int) -> bytes:
    payload = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


@functools.cache
def png_zero_bomb(width: int, height: int, colour_type: int = 6, bit_depth: int = 8) -> bytes:
    """A real, complete PNG of ``width`` x ``height`` zero pixels: zlib packs 1000:1, so 10000x10000
    RGBA is 389 KB that decodes to 400 MB (and more through conversions)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\x00" * (1 + width * channels * bit_depth // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    )


def webp_lossless_declaring(width: int, height: int) -> bytes:
    """34 bytes of lossless WebP (VP8L) declaring ``width`` x ``height`` with alpha."""
    bits = (width - 1) | (height - 1) << 14 | 1 << 28  # alpha_is_used; version 0
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 9
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def float_tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian TIFF header declaring a ``width`` x ``height`` 32-bit float greyscale image."""
    entries = [
        (256, 4, width),  # ImageWidth (LONG)
        (257, 4, height),  # ImageLength
        (258, 3, 32),  # BitsPerSample
        (259, 3, 1),  # Compression: none
        (262, 3, 1),  # Photometric: black is zero
        (273, 4, 8 + 2 + 12 * 10 + 4),  # StripOffsets: just after the IFD
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, height),  # RowsPerStrip
        (279, 4, width * height * 4),  # StripByteCounts
        (339, 3, 3),  # SampleFormat: IEEE float
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 64


def transparent_gif_declaring(width: int, height: int) -> bytes:
    """A palette GIF with a transparent colour whose logical screen claims ``width`` x ``height``."""
    image = Image.new("P", (8, 8), 0)
    data = bytearray(encode(image, "GIF", transparency=0))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _many_frame_gif(frames: int) -> bytes:
    images = [Image.new("P", (4, 4), color=i % 256) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=1, loop=0)
    return buffer.getvalue()


def _exif_jpeg(exif: bytes) -> bytes:
    """A JPEG with an APP1 Exif segment holding ``exif`` after the Exif header."""
    data = encode(_noise(32, 24), "JPEG")
    segment = b"Exif\x00\x00" + exif
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    return data[:2] + app1 + data[2:]


def _orientation_exif(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return encode(_noise(32, 24), "JPEG", exif=exif.tobytes())


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def _flip(data: bytes, start: int, count: int) -> bytes:
    out = bytearray(data)
    for i in range(start, min(start + count, len(out))):
        out[i] ^= 0xFF
    return bytes(out)


UNDECODABLE = "undecodable_image"
NOT_IMAGE = "unsupported_media_type"


def image_cases() -> list[Case]:
    """Uploads: odd but valid images (200), broken ones (422), bombs (413), non-images (415)."""
    png = encode(_noise(64, 48), "PNG")
    jpeg = encode(_noise(64, 48), "JPEG")
    gif = encode(_noise(64, 48).convert("P"), "GIF")
    webp = encode(_noise(64, 48), "WEBP")
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.info["transparency"] = 0
    sixteen = Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20)
    ihdr_bad_crc = bytearray(png)
    ihdr_bad_crc[29] ^= 0xFF
    cases = [
        # Odd but valid: answered 200 with a vector.
        Case("1x1.png", encode(Image.new("RGB", (1, 1), "red"), "PNG"), 200, None),
        Case("1x1.jpg", encode(Image.new("RGB", (1, 1), "red"), "JPEG"), 200, None),
        Case("1x1.gif", encode(Image.new("P", (1, 1)), "GIF"), 200, None),
        Case("wide-10000x1.png", encode(Image.new("RGB", (10_000, 1), "blue"), "PNG"), 200, None),
        Case("tall-1x10000.png", encode(Image.new("L", (1, 10_000), 128), "PNG"), 200, None),
        # Would resize to 224 x 11.2 million pixels (7.5 GB) without the aspect cut in imaging/aspect.py.
        Case("tall-1x50000.png", encode(Image.new("L", (1, 50_000), 128), "PNG"), 200, None),
        Case("cmyk.jpg", encode(_noise(40, 30, "CMYK"), "JPEG"), 200, None),
        Case("16-bit.png", encode(sixteen, "PNG"), 200, None),
        Case("palette-transparent.png", encode(palette, "PNG"), 200, None),
        Case("palette-transparent.gif", encode(palette, "GIF"), 200, None),
        Case("rgba.webp", encode(_noise(32, 32, "RGBA"), "WEBP"), 200, None),
        Case("1-bit.png", encode(_noise(32, 32).convert("1"), "PNG"), 200, None),
        Case("exif-garbage.jpg", _exif_jpeg(b"\xde\xad\xbe\xef" * 16), 200, None),
        Case("exif-bad-ifd-offset.jpg", _exif_jpeg(b"II*\x00\xff\xff\xff\x7f" + b"\x00" * 32), 200, None),
        Case("exif-orientation-99.jpg", _orientation_exif(99), 200, None),
        Case("exif-orientation-6.jpg", _orientation_exif(6), 200, None),
        Case("gif-3000-frames.gif", _many_frame_gif(3000), 200, None),
        Case("jpeg-then-zip-polyglot.jpg", jpeg + _zip("evil.sh", b"rm -rf /"), 200, None),
        Case("png-trailing-html.png", png + b"<html><script>alert(1)</script></html>", 200, None),
        Case("tiff.tif", encode(_noise(20, 20), "TIFF"), 200, None),
        Case("bmp.bmp", encode(_noise(20, 20), "BMP"), 200, None),
        # Truncated or corrupt: a known format that does not decode.
        Case("truncated-half.jpg", jpeg[: len(jpeg) // 2], 422, UNDECODABLE),
        Case("jpeg-soi-only.jpg", jpeg[:20], 422, UNDECODABLE),
        Case("truncated-half.png", png[: len(png) // 2], 422, UNDECODABLE),
        Case("png-header-only.png", png[:16], 422, UNDECODABLE),
        Case("png-bad-ihdr-crc.png", bytes(ihdr_bad_crc), 422, UNDECODABLE),
        Case("png-garbage-idat.png", png[:33] + png_chunk(b"IDAT", b"\x00garbage" * 20), 422, UNDECODABLE),
        Case("truncated.gif", gif[: len(gif) // 3], 422, UNDECODABLE),
        Case("gif-header-only.gif", b"GIF89a", 422, UNDECODABLE),
        Case("truncated.webp", webp[: len(webp) // 2], 422, UNDECODABLE),
        Case("webp-corrupt-bitstream.webp", _flip(webp, 30, 40), 422, UNDECODABLE),
        Case("gif-header-then-html-polyglot.gif", b"GIF89a<html><script>alert(1)</script>", 422, UNDECODABLE),
        Case("png-sig-then-pdf.png", b"\x89PNG\r\n\x1a\n%PDF-1.4\n1 0 obj", 422, UNDECODABLE),
        # A few hundred bytes whose header claims 10000x10000: libjpeg would fill the rest with grey.
        Case("jpeg-tiny-declaring-10000x10000.jpg", _jpeg_with_size(10_000, 10_000), 422, UNDECODABLE),
        # Decompression bombs: tiny files declaring huge pixel counts, refused before decoding.
        Case("png-100000x100000.png", png_declaring(100_000, 100_000), 413, "image_too_large"),
        Case("png-1x200000000.png", png_declaring(1, 200_000_000), 413, "image_too_large"),
        Case("jpeg-65000x65000.jpg", _jpeg_with_size(65_000, 65_000), 413, "image_too_large"),
        Case("gif-65535x65535.gif", _gif_declaring(65_535, 65_535), 413, "image_too_large"),
        Case("webp-16384x16384.webp", _webp_vp8x_declaring(16_384, 16_384), 413, "image_too_large"),
        # Under the pixel limit, over the decoded-bytes budget (PIXEMBED_MAX_DECODED_MB), conversions counted:
        # each cost 1-2.7 GB of RSS when decoded (issue 14).
        Case(
            "webp-lossless-rgba-10000x10000.webp",
            webp_lossless_declaring(10_000, 10_000),
            413,
            "image_too_large",
        ),
        Case("png-rgba-10000x10000-389KB.png", png_zero_bomb(10_000, 10_000), 413, "image_too_large"),
        Case("png-grey16-10000x10000.png", png_zero_bomb(10_000, 10_000, 0, 16), 413, "image_too_large"),
        Case("tiff-float-10000x10000.tif", float_tiff_declaring(10_000, 10_000), 413, "image_too_large"),
        Case(
            "gif-transparent-10000x10000.gif",
            transparent_gif_declaring(10_000, 10_000),
            413,
            "image_too_large",
        ),
        # Not images at all, whatever the file name says.
        Case("empty.jpg", b"", 415, NOT_IMAGE),
        Case(
            "svg-as.png",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            415,
            NOT_IMAGE,
        ),
        Case("html-as.jpg", b"<!DOCTYPE html><html><body>hi</body></html>", 415, NOT_IMAGE),
        Case("zip-as.png", _zip("a.png", png), 415, NOT_IMAGE),
        Case("pdf-as.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", 415, NOT_IMAGE),
        Case("gzip-as.png", b"\x1f\x8b\x08\x00" + b"\x00" * 30, 415, NOT_IMAGE),
        Case("elf-as.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 50, 415, NOT_IMAGE),
        Case("mp4-as.jpg", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", 415, NOT_IMAGE),
        Case("nul-bytes.png", b"\x00" * 4096, 415, NOT_IMAGE),
        Case("json-as.png", b'{"image": "x"}', 415, NOT_IMAGE),
    ]
    return cases


# JSON shaped to crash a parser: Python's json recurses once per level (RecursionError past ~1000).
DEEP_JSON = "[" * 100_000


def deep_metadata(depth: int) -> dict[str, object]:
    """``{"a": {"a": ... {"a": 1}}}``, ``depth`` objects deep."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


# Search filters past SQLite's limits (expression depth 1000) or that no JSON path can name:
# (name, filter, words of the 400's message).
HOSTILE_FILTERS: list[tuple[str, dict[str, object], str]] = [
    ("in-1000-values", {"colour": {"in": [f"c{i}" for i in range(1000)]}}, "lists 1000 values"),
    ("nin-1000-values", {"colour": {"nin": list(range(1000))}}, "lists 1000 values"),
    ("1001-keys", {f"k{i}": i for i in range(1001)}, "1001 keys"),
    ("nul-key", {"a\x00b": 1}, "control characters"),
    ("backslash-key", {"a\\b": 1}, "backslashes"),
    ("1024-plus-values", {f"k{i}": {"in": list(range(200))} for i in range(6)}, "1200 values in all"),
]


# Refused before any connection: (url, status, error). Literal and odd IP spellings, schemes, credentials.
REFUSED_URLS: list[tuple[str, int, str]] = [
    ("http://127.0.0.1/a.png", 400, "url_refused"),
    ("http://localhost/a.png", 400, "url_refused"),
    ("http://10.0.0.1/a.png", 400, "url_refused"),
    ("http://172.16.5.4/a.png", 400, "url_refused"),
    ("http://192.168.1.1/a.png", 400, "url_refused"),
    ("http://169.254.169.254/latest/meta-data/", 400, "url_refused"),
    ("http://169.254.10.10/a.png", 400, "url_refused"),
    ("http://100.64.0.1/a.png", 400, "url_refused"),
    ("http://0.0.0.0/a.png", 400, "url_refused"),
    ("http://[::1]/a.png", 400, "url_refused"),
    ("http://[fe80::1]/a.png", 400, "url_refused"),
    ("http://[fd00::1]/a.png", 400, "url_refused"),
    ("http://[::ffff:127.0.0.1]/a.png", 400, "url_refused"),
    ("http://[::ffff:169.254.169.254]/a.png", 400, "url_refused"),
    ("http://[::ffff:a9fe:a9fe]/a.png", 400, "url_refused"),
    ("http://2130706433/a.png", 400, "url_refused"),
    ("http://0177.0.0.1/a.png", 400, "url_refused"),
    ("http://0x7f000001/a.png", 400, "url_refused"),
    ("http://0x7f.0.0.1/a.png", 400, "url_refused"),
    ("http://127.1/a.png", 400, "url_refused"),
    ("http://2852039166/latest/meta-data/", 400, "url_refused"),
    ("http://168.63.129.16/machine?comp=goalstate", 400, "url_refused"),
    ("http://192.0.0.192/opc/v2/instance/", 400, "url_refused"),
    ("http://169.254.170.2/v2/credentials/x", 400, "url_refused"),
    ("http://[fec0::1]/a.png", 400, "url_refused"),
    ("ftp://example.com/a.png", 400, "url_refused"),
    ("file:///etc/passwd", 400, "url_refused"),
    ("gopher://example.com/_x", 400, "url_refused"),
    ("http://user:pass@example.com/a.png", 400, "url_refused"),
]


@dataclass(frozen=True)
class RequestCase:
    """A whole hostile request (not an upload): what a browser page, a rebinding attacker or a sloppy client
    sends, and the status and error code pixembed answers with."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    json: object
    status: int
    error: str | None


EVIL_ORIGIN = "https://evil.example"
# PIXEMBED_MAX_JSON_MB of the app the request cases run against; one case sends just over it.
JSON_CAP_MB = 1.0

REQUEST_CASES: list[RequestCase] = [
    RequestCase(
        "rebinding Host mints an admin key",
        "POST",
        "/v1/keys",
        {"Host": "rebind.attacker.example:8000"},
        {"name": "x", "scopes": ["read", "write", "admin"]},
        400,
        "invalid_request",
    ),
    RequestCase(
        "rebinding Host reads collections",
        "GET",
        "/v1/collections",
        {"Host": "rebind.attacker.example"},
        None,
        400,
        "invalid_request",
    ),
    RequestCase(
        "cross-site POST creates a collection",
        "POST",
        "/v1/collections",
        {"Origin": EVIL_ORIGIN},
        {"name": "drive-by"},
        403,
        "forbidden",
    ),
    RequestCase(
        "cross-site POST with Origin: null",
        "POST",
        "/v1/embed/text",
        {"Origin": "null"},
        {"text": "x"},
        403,
        "forbidden",
    ),
    RequestCase(
        "cross-site POST seen only in Referer",
        "POST",
        "/v1/embed/text",
        {"Referer": f"{EVIL_ORIGIN}/a.html"},
        {"text": "x"},
        403,
        "forbidden",
    ),
    RequestCase(
        "cross-site DELETE of a collection",
        "DELETE",
        "/v1/collections/x",
        {"Origin": EVIL_ORIGIN},
        None,
        403,
        "forbidden",
    ),
    RequestCase(
        "collection name with a trailing newline",
        "POST",
        "/v1/collections",
        {},
        {"name": "abc\n"},
        400,
        "invalid_request",
    ),
    RequestCase(
        "JSON body over PIXEMBED_MAX_JSON_MB",
        "POST",
        "/v1/embed/text",
        {},
        {"text": "a" * int(JSON_CAP_MB * 1024 * 1024 + 10)},
        413,
        "payload_too_large",
    ),
    RequestCase("an invented HTTP method", "BREW", "/v1/collections", {}, None, 405, "method_not_allowed"),
]
