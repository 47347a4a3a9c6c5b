"""Property tests: whatever bytes arrive, decode_image returns RGB or raises one of its three errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pixembed.errors import ImageTooLarge, UndecodableImage, UnsupportedMediaType
from pixembed.imaging import decode_image
from tests.helpers import encode

ALLOWED = (UnsupportedMediaType, UndecodableImage, ImageTooLarge)
# Small enough that a mutated header can never make a test allocate much.
LIMIT = 1_000_000

MAGIC_PREFIXES = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x01\x00\x00WEBPVP8X",
    b"RIFF\x00\x01\x00\x00WEBPVP8L",
    b"II*\x00",
    b"MM\x00*",
    b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
    b"\x00\x00\x00\x1cftypavif",
]

# Pillow reports what it could not read as warnings; they are expected noise for corrupt input.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def assert_rgb_or_allowed(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=LIMIT)
    except ALLOWED:
        return
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert image.width * image.height <= LIMIT


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    assert_rgb_or_allowed(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MAGIC_PREFIXES), st.binary(max_size=2048))
def test_arbitrary_bytes_behind_a_real_signature(prefix: bytes, rest: bytes) -> None:
    assert_rgb_or_allowed(prefix + rest)


@pytest.fixture(scope="module")
def valid_encodings(noise_image: Image.Image) -> dict[str, bytes]:
    return {
        "PNG": encode(noise_image, "PNG"),
        "JPEG": encode(noise_image, "JPEG"),
        "GIF": encode(noise_image, "GIF"),
        "WEBP": encode(noise_image, "WEBP"),
        "BMP": encode(noise_image, "BMP"),
        "TIFF": encode(noise_image, "TIFF"),
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["PNG", "JPEG", "PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"]),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=8),
    keep=st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_valid_images(
    valid_encodings: dict[str, bytes], fmt: str, flips: list[tuple[float, int]], keep: float | None
) -> None:
    data = bytearray(valid_encodings[fmt])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    if keep is not None:
        del data[int(keep * len(data)) :]
    assert_rgb_or_allowed(bytes(data))
