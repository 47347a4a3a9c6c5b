"""Which format a byte string holds, judged from its first bytes, never from a filename or a declared type."""

from __future__ import annotations

import importlib.util

from PIL import features

# Pillow's names for the formats pixembed decodes; AVIF and HEIF only where this install can read them.
_BASE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
AVIF_AVAILABLE = bool(features.check_module("avif"))
HEIF_AVAILABLE = importlib.util.find_spec("pillow_heif") is not None
SUPPORTED_FORMATS: tuple[str, ...] = (
    _BASE_FORMATS + (("AVIF",) if AVIF_AVAILABLE else ()) + (("HEIF",) if HEIF_AVAILABLE else ())
)

_DISPLAY_NAMES = {"WEBP": "WebP", "HEIF": "HEIC/HEIF"}

# A BMP's second header starts with its own length; only these lengths are real, and checking one keeps
# any text that happens to start with "BM" from being taken for a bitmap.
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})

# Formats we refuse, named so a caller learns what they sent instead of "unknown data".
_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a zip-based document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"%!PS", "a PostScript document"),
    (b"8BPS", "a Photoshop (PSD) image"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"qoif", "a QOI image"),
    (b"v/1\x01", "an OpenEXR image"),
    (b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def display_name(fmt: str) -> str:
    """The name a person knows a Pillow format by ("WebP" for "WEBP")."""
    return _DISPLAY_NAMES.get(fmt, fmt)


def supported_formats_text() -> str:
    """The supported formats as a sentence fragment for error messages."""
    return ", ".join(display_name(fmt) for fmt in SUPPORTED_FORMATS)


def sniff_format(data: bytes) -> str | None:
    """Pillow's name for the image format ``data`` starts with, or None when it is none that we decode."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    return _sniff_iso_media(data)


def _sniff_iso_media(data: bytes) -> str | None:
    """AVIF or HEIF from an ISO-BMFF ``ftyp`` box; other brands (MP4, QuickTime) are not images."""
    if data[4:8] != b"ftyp":
        return None
    box_end = min(int.from_bytes(data[:4], "big"), len(data), 256)
    major = data[8:12]
    compatible = {data[offset : offset + 4] for offset in range(16, box_end - 3, 4)}
    if major in _AVIF_BRANDS:
        return "AVIF"
    if major in _HEIF_BRANDS:
        return "HEIF"
    if compatible & _AVIF_BRANDS:
        return "AVIF"
    if compatible & (_HEIF_BRANDS | _HEIF_GENERIC_BRANDS) or major in _HEIF_GENERIC_BRANDS:
        return "HEIF"
    return None


def describe_unsupported(data: bytes) -> str:
    """A short guess at what non-image ``data`` is, for the error message."""
    if not data:
        return "an empty body"
    if data[4:8] == b"ftyp":
        return f"an ISO media file of brand {data[8:12].decode('latin-1')!r} (video or an unsupported image)"
    if data[:4] == b"RIFF":
        return f"a RIFF {data[8:12].decode('latin-1')!r} file, not WebP"
    for signature, name in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return name
    return _describe_text(data[:2048]) or "unrecognised binary data"


def _describe_text(head: bytes) -> str | None:
    """Name markup and plain text; None when ``head`` is not text at all."""
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The 2 KiB cut may split a multi-byte character; anything earlier means binary.
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lowered:
        return "an SVG image (vector images are not supported)"
    if lowered.startswith(("<!doctype html", "<html")) or "<body" in lowered or "<head" in lowered:
        return "an HTML document"
    if lowered.startswith("<?xml"):
        return "an XML document"
    if lowered.startswith(("{", "[")):
        return "JSON or other text"
    return "plain text"


def webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size a WebP header declares, or None if the header is not one we can read."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        return width, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# Start-of-frame markers whose scans are Huffman-coded (arithmetic coding is SOF9-SOF11, SOF13-SOF15).
_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
_ARITHMETIC_SOF = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def jpeg_is_huffman_coded(data: bytes) -> bool | None:
    """Whether a JPEG's frame is Huffman-coded (True) or arithmetic-coded (False), from its markers;
    None when no frame header is found before the first scan."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _HUFFMAN_SOF:
            return True
        if marker in _ARITHMETIC_SOF or marker == 0xDA:
            return False if marker in _ARITHMETIC_SOF else None
        offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
    return None
