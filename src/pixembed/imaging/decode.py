"""Turn untrusted bytes into one upright RGB image for CLIP, refusing bombs, truncation and non-images."""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from pixembed.errors import ImageTooLarge, PixembedError, UndecodableImage, UnsupportedMediaType
from pixembed.imaging.budget import bytes_per_pixel
from pixembed.imaging.formats import (
    AVIF_AVAILABLE,
    describe_unsupported,
    display_name,
    jpeg_is_huffman_coded,
    sniff_format,
    supported_formats_text,
    webp_canvas_size,
)

_WHITE = (255, 255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ROTATING_ORIENTATIONS = frozenset(range(2, 9))


SOURCE_SIZE = "pixembed_source_size"
_TRANSPARENT_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


@dataclass(frozen=True)
class DecodePlan:
    """What decoding an image will cost, read from its header before any pixel is decoded."""

    format: str
    size: tuple[int, int]  # as it will be decoded (a JPEG's reduced draft size when one applies)
    mode: str
    peak_bytes: int  # the most memory the decode and its conversions to RGB hold at once (an upper bound)


def plan_decode(data: bytes, *, max_pixels: int, min_side: int | None = None) -> DecodePlan:
    """The cost of ``decode_image(data, ...)``, from the header only; raises what ``decode_image`` would
    for a non-image, a bomb over ``max_pixels`` or a broken header.

    A WebP is never opened here: libwebp allocates its whole canvas when Pillow opens it, so its size and
    (worst-case) RGBA mode come from the RIFF header's bytes.
    """
    fmt = _supported_format(data)
    if fmt == "WEBP" and (declared := webp_canvas_size(data)) is not None:
        _check_size(declared, max_pixels)
        return DecodePlan(fmt, declared, "RGBA", _peak_bytes(fmt, declared, "RGBA", True, False))
    with _pillow_errors_mapped(fmt, "decode"):
        image = _open_header(data, fmt, max_pixels)
        if min_side is not None and fmt == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        transparent = image.mode in _TRANSPARENT_MODES or "transparency" in image.info
        # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after the pixels, so
        # for PNG any EXIF seen in the header counts as a turn; elsewhere EXIF precedes the pixels.
        turned = "exif" in image.info if fmt == "PNG" else _orientation(image) in _ROTATING_ORIENTATIONS
        return DecodePlan(
            fmt, image.size, image.mode, _peak_bytes(fmt, image.size, image.mode, transparent, turned)
        )


def _peak_bytes(fmt: str, size: tuple[int, int], mode: str, transparent: bool, turned: bool) -> int:
    """Bytes per pixel of every buffer ``decode_image`` may hold at once, times the pixels, plus slack.

    Counted: the decoded image in its own mode; a copy for EXIF rotation; numpy's working arrays when
    16-bit or 32-bit greys are scaled (``_scale_to_8bit``); the RGBA copy and the white canvas when
    transparency is flattened; the RGB result of any conversion (4 bytes a pixel in Pillow); libwebp's
    own canvas; a second buffer for TIFF strips and tiles. tests/imaging/test_decode_budget.py measures
    real peaks against this in fresh processes.
    """
    stored = bytes_per_pixel(mode)
    per_pixel = stored  # the decoded image; an RGB one without transparency is the result itself
    if mode != "RGB" or transparent:
        per_pixel += 4  # the RGB result of a conversion
    if turned:
        per_pixel += stored
    if mode in _SIXTEEN_BIT_MODES:
        per_pixel += 2 + 4 + 4 + 1 + 1  # numpy copy, uint32 working array and its temporary, 8-bit, L
    elif mode in ("I", "F"):
        per_pixel += 4 * 6 + 1 + 1  # numpy copy, float32, NaN-free copy, two temporaries, rint, 8-bit, L
    if transparent:
        per_pixel += 4 + 4  # the RGBA copy and the white canvas it is pasted on
    if fmt == "WEBP":
        per_pixel += 4  # libwebp decodes into its own RGBA canvas first
    elif fmt == "TIFF":
        per_pixel += stored
    width, height = size
    # An eighth more for what the per-pixel count misses (codec row buffers, allocator rounding).
    return width * height * per_pixel * 9 // 8 + _SLACK_BYTES


# Codec state, row buffers and small objects that do not grow with the pixel count.
_SLACK_BYTES = 2 * 1024 * 1024


def decode_image(data: bytes, *, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """Decode ``data`` (first frame) into an upright RGB image, or raise the error that says why not.

    The pixel count is checked from the header before any pixel is decoded. Raises
    ``UnsupportedMediaType`` for data in no format we decode, ``ImageTooLarge`` over ``max_pixels``,
    ``UndecodableImage`` for a known format that is truncated or corrupt.

    With ``min_side``, a JPEG much larger than that is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
    (libjpeg's scaled decoding, through Pillow's draft mode), never below ``min_side`` on its shorter side:
    a 12 MP photo decodes several times faster, for callers that shrink it to a model's input anyway.
    """
    fmt = _supported_format(data)
    with _pillow_errors_mapped(fmt, "decode"):
        image = _open_header(data, fmt, max_pixels)
        declared = image.size
        if min_side is not None and fmt == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        decoded = image.size
        # Decoding is lazy in Pillow; load here so a truncated or corrupt body fails inside this block.
        image.load()
        rgb = _to_rgb(_upright(image))
    # The upright size of the source as stored, also when it was decoded at reduced scale (dedup's
    # "keep the highest resolution" and the reported sizes must not see the draft size).
    turned = rgb.size != decoded
    rgb.info[SOURCE_SIZE] = (declared[1], declared[0]) if turned else declared
    return rgb


def source_dimensions(image: Image.Image) -> tuple[int, int]:
    """The upright width and height of the file an image was decoded from (its own size if unknown)."""
    size = image.info.get(SOURCE_SIZE)
    return (int(size[0]), int(size[1])) if isinstance(size, tuple) else image.size


def image_size_from_header(data: bytes) -> tuple[int, int]:
    """Width and height as the image's header declares them, without decoding any pixel."""
    fmt = _supported_format(data)
    with _pillow_errors_mapped(fmt, "read the header of"):
        size = _open_header(data, fmt, max_pixels=None).size
    return size


@contextlib.contextmanager
def _pillow_errors_mapped(fmt: str, doing: str) -> Iterator[None]:
    """Turn whatever Pillow raises on bad input into ``ImageTooLarge`` or ``UndecodableImage``."""
    name = display_name(fmt)
    try:
        yield
    except PixembedError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (global, not ours) is a second net; whatever it catches is too large.
        raise ImageTooLarge(f"the {name} image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise UndecodableImage(f"the data starts like a {name} image but its header is not valid") from exc
    except Exception as exc:
        # Pillow's plugins raise a long tail of types (OSError, SyntaxError, struct.error, EOFError,
        # ValueError, zlib.error, ...) for bad input; every one of them means the same thing here.
        raise UndecodableImage(f"could not {doing} the {name} image: {exc}") from exc


def _supported_format(data: bytes) -> str:
    """The sniffed format, provided this install can decode it; else ``UnsupportedMediaType``."""
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(
            f"not a supported image: got {describe_unsupported(data)}; "
            f"supported formats are {supported_formats_text()}"
        )
    if (fmt == "HEIF" and not _heif_opener_registered()) or (fmt == "AVIF" and not AVIF_AVAILABLE):
        extra = "install pillow-heif" if fmt == "HEIF" else "this Pillow build has no AVIF support"
        raise UnsupportedMediaType(
            f"{display_name(fmt)} images are not decodable here ({extra}); "
            f"supported formats are {supported_formats_text()}"
        )
    return fmt


@functools.cache
def _heif_opener_registered() -> bool:
    """Register pillow-heif's opener once, on the first HEIC seen, so a missing package costs nothing."""
    try:
        module = importlib.import_module("pillow_heif")
    except ImportError:
        return False
    module.register_heif_opener()
    return True


def _open_header(data: bytes, fmt: str, max_pixels: int | None) -> Image.Image:
    """Parse only the header, with Pillow limited to the sniffed format's plugin, and check its size."""
    if fmt == "WEBP" and (declared := webp_canvas_size(data)) is not None:
        # libwebp allocates its whole canvas when the decoder is created, i.e. inside Image.open,
        # so the declared size is checked from the bytes first.
        _check_size(declared, max_pixels)
    image = Image.open(io.BytesIO(data), formats=[fmt])
    _check_size(image.size, max_pixels)
    if fmt == "JPEG":
        _check_jpeg_length(data, image.size)
    return image


def _check_jpeg_length(data: bytes, size: tuple[int, int]) -> None:
    """Refuse a Huffman-coded JPEG too short to hold the pixels its header declares.

    libjpeg fills whatever the data lacks with grey and only warns, so a 633-byte file declaring
    10000x10000 "decodes". Huffman coding spends at least one bit on every 8x8 block of every component
    in the first (DC) scan, 2 bits in a baseline scan; allowing for 2x2 chroma subsampling, a complete
    file holds at least ``width * height / 2048`` bytes. Arithmetic coding has no such floor.
    """
    width, height = size
    needed = width * height // 2048
    if len(data) < needed and jpeg_is_huffman_coded(data):
        raise UndecodableImage(
            f"the JPEG image is truncated: its header declares {width}x{height} pixels, which take at least "
            f"{needed:,} bytes, but the file has {len(data):,}"
        )


def _check_size(size: tuple[int, int], max_pixels: int | None) -> None:
    """Refuse a degenerate size, or one over the pixel limit when there is one."""
    width, height = size
    if width <= 0 or height <= 0:
        raise UndecodableImage(f"the image is empty ({width}x{height} pixels)")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
        )


def _orientation(image: Image.Image) -> object:
    """The EXIF orientation tag (1 when absent or unreadable)."""
    try:
        return image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; broken EXIF means the image is used as stored rather than refused."""
    try:
        if _orientation(image) in _ROTATING_ORIENTATIONS:
            return ImageOps.exif_transpose(image)
    except Exception:
        pass
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with transparency flattened onto white and high-bit-depth greys scaled, not clipped."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        image = _scale_to_8bit(image)
    if image.has_transparency_data:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        # Pasting through the alpha channel onto an RGB canvas flattens onto white as alpha_composite
        # does, with two buffers fewer (a 10000x10000 image: 800 MB less).
        background = Image.new("RGB", rgba.size, _WHITE[:3])
        background.paste(rgba, (0, 0), rgba)
        return background
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit int and float greys onto 0-255; Pillow's own convert clips them to white."""
    values = np.asarray(image)
    if image.mode in _SIXTEEN_BIT_MODES:
        scaled = (values.astype(np.uint32) * 255 + 32767) // 65535
        return Image.fromarray(scaled.astype(np.uint8))
    floats = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(floats.min()), float(floats.max())
    # "I" and "F" carry no declared range, so the data's own range decides: unit floats, 8-bit and
    # 16-bit integer data keep their meaning; anything else is stretched to fill 0-255.
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        floats *= 255.0
    elif low >= 0.0 and high <= 255.0:
        pass
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        floats /= 257.0
    elif high > low:
        floats = (floats - low) * (255.0 / (high - low))
    else:
        floats = np.zeros_like(floats)
    return Image.fromarray(np.clip(np.rint(floats), 0, 255).astype(np.uint8))
