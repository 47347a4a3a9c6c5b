"""decode_image: every supported format to upright RGB, colours kept, and bad input refused by class."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from pixembed.errors import ImageTooLarge, UndecodableImage, UnsupportedMediaType
from pixembed.imaging import SUPPORTED_FORMATS, decode_image, image_size_from_header
from pixembed.imaging.decode import source_dimensions
from tests.helpers import encode, png_declaring

LIMIT = 1_000_000
RED = (200, 30, 30)
BLUE = (30, 60, 200)


def halves(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """Left half red, right half blue: enough to see both colour and orientation."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def assert_colour(actual: object, expected: tuple[int, ...], tolerance: int = 14) -> None:
    assert isinstance(actual, tuple)
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


FORMAT_CASES = [
    ("JPEG", {"quality": 95}),
    ("PNG", {}),
    ("WEBP", {"quality": 95}),
    ("WEBP", {"lossless": True}),
    ("GIF", {}),
    ("BMP", {}),
    ("TIFF", {}),
    ("TIFF", {"compression": "tiff_lzw"}),
    pytest.param(
        "AVIF",
        {"quality": 95},
        marks=pytest.mark.skipif("AVIF" not in SUPPORTED_FORMATS, reason="no AVIF in this Pillow"),
    ),
]


@pytest.mark.parametrize(("fmt", "params"), FORMAT_CASES)
def test_each_format_decodes_to_rgb_with_its_size_and_colours(fmt: str, params: dict[str, object]) -> None:
    image = decode_image(encode(halves(), fmt, **params), max_pixels=LIMIT)
    assert image.mode == "RGB"
    assert image.size == (40, 30)
    assert_colour(image.getpixel((5, 15)), RED)
    assert_colour(image.getpixel((35, 15)), BLUE)


def test_exif_orientation_6_turns_the_image_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; "rotate 90 degrees clockwise to display"
    image = decode_image(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()), max_pixels=LIMIT)
    assert image.size == (30, 40)
    # Turning clockwise brings the stored left (red) edge to the top.
    assert_colour(image.getpixel((15, 5)), RED)
    assert_colour(image.getpixel((15, 35)), BLUE)


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_draft_decoded_jpeg_remembers_its_upright_source_size(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.new("RGB", (2000, 1200), "red"), "JPEG", quality=80, exif=exif.tobytes())
    image = decode_image(data, max_pixels=10_000_000, min_side=200)
    upright = (2000, 1200) if orientation == 1 else (1200, 2000)
    assert max(image.size) < 2000  # decoded at reduced scale ...
    assert source_dimensions(image) == upright  # ... but the file's own (upright) size is known


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00garbage that is no TIFF header at all",
        b"Exif\x00\x00MM\x00*\x00\x00\xff\xff",  # first IFD offset far past the end
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff\x12\x01\x03\x00",  # 65535 entries promised, none there
    ],
)
def test_malformed_exif_still_decodes_without_rotating(exif: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the EXIF it cannot read, rightly
        image = decode_image(encode(halves(), "JPEG", quality=95, exif=exif), max_pixels=LIMIT)
    assert image.size == (40, 30)
    assert_colour(image.getpixel((5, 15)), RED)


def test_fully_transparent_rgba_becomes_white_not_black() -> None:
    image = decode_image(encode(Image.new("RGBA", (8, 8), (255, 0, 0, 0))), max_pixels=LIMIT)
    assert image.getpixel((3, 3)) == (255, 255, 255)


def test_half_transparent_rgba_blends_onto_white() -> None:
    image = decode_image(encode(Image.new("RGBA", (8, 8), (0, 0, 0, 128))), max_pixels=LIMIT)
    assert_colour(image.getpixel((3, 3)), (127, 127, 127), tolerance=2)


def test_transparent_greyscale_with_alpha_becomes_white() -> None:
    image = decode_image(encode(Image.new("LA", (8, 8), (0, 0))), max_pixels=LIMIT)
    assert image.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_white(fmt: str) -> None:
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([0, 0, 0, 255, 0, 0])
    palette_image.paste(1, (4, 0, 8, 8))
    image = decode_image(encode(palette_image, fmt, transparency=0), max_pixels=LIMIT)
    assert image.getpixel((1, 1)) == (255, 255, 255)
    assert image.getpixel((6, 1)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_red_comes_out_red(fmt: str) -> None:
    image = decode_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), fmt), max_pixels=LIMIT)
    assert_colour(image.getpixel((3, 3)), (255, 0, 0), tolerance=4)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_mid_grey_stays_mid_grey(fmt: str) -> None:
    grey = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    image = decode_image(encode(grey, fmt), max_pixels=LIMIT)
    assert image.getpixel((3, 3)) == (128, 128, 128)


def test_16_bit_range_maps_black_to_black_and_full_scale_to_white() -> None:
    ramp = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    image = decode_image(encode(ramp, "PNG"), max_pixels=LIMIT)
    assert [image.getpixel((0, 0)), image.getpixel((1, 0))] == [(0, 0, 0), (255, 255, 255)]


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [("I", 40000, 156), ("I", 100, 100), ("F", 0.5, 128), ("F", 200.0, 200)],
)
def test_32_bit_int_and_float_greys_are_scaled_not_clipped(mode: str, value: float, expected: int) -> None:
    image = decode_image(encode(Image.new(mode, (8, 8), value), "TIFF"), max_pixels=LIMIT)
    assert image.getpixel((3, 3)) == (expected, expected, expected)


@pytest.mark.parametrize(("mode", "value", "expected"), [("L", 77, 77), ("1", 1, 255)])
def test_greyscale_and_bilevel_become_rgb(mode: str, value: int, expected: int) -> None:
    image = decode_image(encode(Image.new(mode, (8, 8), value), "PNG"), max_pixels=LIMIT)
    assert (image.mode, image.getpixel((3, 3))) == ("RGB", (expected, expected, expected))


@pytest.mark.parametrize(("fmt", "params"), [("GIF", {}), ("PNG", {}), ("WEBP", {"lossless": True})])
def test_animations_give_their_first_frame(fmt: str, params: dict[str, object]) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode_image(data, max_pixels=LIMIT)
    assert_colour(image.getpixel((8, 8)), (255, 0, 0), tolerance=2)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # a cut TIFF loses its tags too
@pytest.mark.parametrize(("fmt", "params"), [(case[0], case[1]) for case in FORMAT_CASES[:8]])
def test_truncated_images_are_undecodable(
    fmt: str, params: dict[str, object], noise_image: Image.Image
) -> None:
    data = encode(noise_image.resize((64, 64)), fmt, **params)
    with pytest.raises(UndecodableImage):
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"", "empty"),
        (b"just some words\nin a text file\n", "plain text"),
        (b"<!DOCTYPE html><html><body><img src=x></body></html>", "HTML"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8"/>', "SVG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "ISO media"),
        (b"BM but not a bitmap header at all", "plain text"),
        (bytes(range(256)), "binary"),
    ],
)
def test_non_images_are_unsupported_and_named(data: bytes, named: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_image(data, max_pixels=LIMIT)
    assert named in caught.value.message
    assert "JPEG" in caught.value.message and "WebP" in caught.value.message


def test_a_zip_archive_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("picture.png", encode(halves()))
    with pytest.raises(UnsupportedMediaType, match="ZIP"):
        decode_image(buffer.getvalue(), max_pixels=LIMIT)


def test_formats_pillow_knows_but_we_do_not_accept_are_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType, match="ICO"):
        decode_image(encode(halves(), "ICO"), max_pixels=LIMIT)


def test_a_png_declaring_20000_squared_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    allocations: list[object] = []
    for cls in (ImageFile.ImageFile, PngImagePlugin.PngImageFile):
        monkeypatch.setattr(cls, "load_prepare", allocations.append)
    data = png_declaring(20_000, 20_000)
    assert len(data) < 400
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        decode_image(data, max_pixels=100_000_000)
    assert time.perf_counter() - started < 1.0
    assert allocations == []  # never reached the step that allocates the pixel buffer


def test_our_own_limit_refuses_from_the_header_and_names_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    allocations: list[object] = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load_prepare", allocations.append)
    with pytest.raises(ImageTooLarge, match="9000x9000"):
        decode_image(png_declaring(9000, 9000), max_pixels=LIMIT)
    assert allocations == []


def test_pillow_bomb_error_surfaces_as_image_too_large_even_under_a_higher_limit() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(png_declaring(20_000, 20_000), max_pixels=10**12)


def test_pillow_bomb_warning_raised_as_an_error_is_image_too_large() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLarge):
            decode_image(png_declaring(10_000, 10_000), max_pixels=200_000_000)


def test_a_webp_declaring_a_huge_canvas_is_refused_before_libwebp_allocates_it() -> None:
    canvas = (16383 - 1).to_bytes(3, "little") * 2
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + canvas
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    with pytest.raises(ImageTooLarge, match="16383x16383"):
        decode_image(data, max_pixels=LIMIT)


def test_a_zero_width_image_is_undecodable() -> None:
    with pytest.raises(UndecodableImage):
        decode_image(png_declaring(0, 16), max_pixels=LIMIT)


def test_header_size_is_read_without_decoding() -> None:
    assert image_size_from_header(encode(halves(), "WEBP")) == (40, 30)
    assert image_size_from_header(png_declaring(9000, 7000)) == (9000, 7000)
    with pytest.raises(UnsupportedMediaType):
        image_size_from_header(b"GIF")


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A complete 8x8 JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
    data = bytearray(encode(Image.new("RGB", (8, 8), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("min_side", [None, 224])
def test_a_tiny_jpeg_declaring_10000x10000_is_truncated_not_grey(min_side: int | None) -> None:
    data = _jpeg_declaring(10_000, 10_000)
    assert len(data) < 1000
    with pytest.raises(UndecodableImage, match="truncated: its header declares 10000x10000"):
        decode_image(data, max_pixels=100_000_000, min_side=min_side)


@pytest.mark.parametrize(("mode", "params"), [("RGB", {"subsampling": 2}), ("L", {"optimize": True})])
def test_the_smallest_honest_large_jpegs_still_decode(mode: str, params: dict[str, object]) -> None:
    # A flat picture at the lowest quality, progressive and optimised, is the best case for compression.
    data = encode(Image.new(mode, (4000, 3000), 0), "JPEG", quality=1, progressive=True, **params)
    assert decode_image(data, max_pixels=LIMIT * 20).size == (4000, 3000)
