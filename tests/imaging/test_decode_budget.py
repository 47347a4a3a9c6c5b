"""The decoded-bytes budget: header estimates bound real decode peaks, and reservations are enforced
per request and server-wide, and given back (issue 14, item 4)."""

from __future__ import annotations

import gc
import io
import subprocess
import sys
import time

import anyio
import numpy as np
import pytest
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import BudgetFull, ImageTooLarge, Overloaded
from pixembed.imaging.budget import DecodeBudget, DecodePool, budget_scope
from pixembed.imaging.decode import decode_image, plan_decode
from pixembed.services.inputs import ImageSource, load_images
from tests.helpers import encode

SIDE = 2000
MB = 1024 * 1024


def _images() -> dict[str, bytes]:
    ramp = np.tile(np.arange(SIDE, dtype=np.uint32) % 256, (SIDE, 1)).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([ramp, ramp, ramp, 255 - ramp]), "RGBA")
    palette = Image.fromarray(ramp, "L").convert("P")
    return {
        "rgba.png": encode(rgba, "PNG"),
        "rgba-lossless.webp": encode(rgba, "WEBP", lossless=True),
        "float.tif": encode(Image.fromarray(ramp.astype(np.float32) / 255, "F"), "TIFF"),
        "int32.tif": encode(Image.fromarray(ramp.astype(np.int32) * 200, "I"), "TIFF"),
        "transparent.gif": encode(palette, "GIF", transparency=0),
        "grey16.png": encode(Image.fromarray(ramp.astype(np.uint16) * 257), "PNG"),
        "rgb.jpg": encode(rgba.convert("RGB"), "JPEG"),
        "cmyk.jpg": encode(rgba.convert("CMYK"), "JPEG"),
        "la.png": encode(rgba.convert("LA"), "PNG"),
        "palette-trns.png": encode(palette, "PNG", transparency=0),
    }


IMAGES = _images()

# Run in a fresh process: reset the peak-RSS mark (clear_refs 5), decode, read the new peak (VmHWM).
_MEASURE = r"""
import io, sys
from PIL import Image
from pixembed.imaging.decode import decode_image
data = sys.stdin.buffer.read()
warm = io.BytesIO()
Image.new("RGB", (8, 8)).save(warm, "PNG")
decode_image(warm.getvalue(), max_pixels=64)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS")
image = decode_image(data, max_pixels=10**9)
print(status("VmHWM") - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_header_estimate_bounds_the_real_peak(name: str) -> None:
    data = IMAGES[name]
    plan = plan_decode(data, max_pixels=10**9)
    assert plan.size == (SIDE, SIDE)
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE], input=data, capture_output=True, check=True
    ).stdout.decode()
    peak = int(measured)
    assert peak <= plan.peak_bytes, (
        f"{name}: decoding peaked at {peak / MB:.1f} MB, estimated {plan.peak_bytes / MB:.1f}"
    )
    # Not wildly pessimistic either: the budget should not refuse images that would fit.
    assert peak >= plan.peak_bytes / 4, (
        f"{name}: {peak / MB:.1f} MB real vs {plan.peak_bytes / MB:.1f} estimated"
    )


def test_conversions_count_same_pixels_cost_more() -> None:
    plans = {name: plan_decode(data, max_pixels=10**9).peak_bytes for name, data in IMAGES.items()}
    assert plans["rgb.jpg"] < plans["rgba.png"] < plans["float.tif"]
    assert plans["rgb.jpg"] < plans["grey16.png"] and plans["rgb.jpg"] < plans["transparent.gif"]


def test_a_request_budget_refuses_past_its_limit_and_gives_back() -> None:
    async def main() -> None:
        pool = DecodePool(100 * MB, wait_s=0.1)
        budget = DecodeBudget(40 * MB, pool)
        with pytest.raises(ImageTooLarge, match="PIXEMBED_MAX_DECODED_MB") as alone:
            await budget.reserve(41 * MB)
        assert not isinstance(alone.value, BudgetFull)
        await budget.reserve(30 * MB)
        with pytest.raises(BudgetFull, match="already holds 30 MB"):
            await budget.reserve(20 * MB)
        assert (budget.held, pool.used) == (30 * MB, 30 * MB)
        image = Image.new("RGB", (1000, 1000))  # 4 MB in Pillow
        budget.keep(image, 30 * MB)
        assert (budget.held, pool.used) == (4_000_000, 4_000_000)
        del image
        gc.collect()
        assert (budget.held, pool.used) == (0, 0)
        await budget.reserve(10 * MB)
        budget.close()  # the request ended: whatever it held is back in the pool
        assert pool.used == 0

    anyio.run(main)


def test_the_server_pool_waits_then_answers_overloaded() -> None:
    async def main() -> None:
        pool = DecodePool(50 * MB, wait_s=0.3)
        other = DecodeBudget(40 * MB, pool)
        await other.reserve(40 * MB)
        mine = DecodeBudget(40 * MB, pool)
        started = time.monotonic()
        with pytest.raises(Overloaded) as refused:
            await mine.reserve(20 * MB)
        assert 0.25 <= time.monotonic() - started < 2 and refused.value.retry_after_s >= 1
        assert mine.held == 0 and pool.used == 40 * MB  # a refused reservation leaves nothing behind

        async def free_soon() -> None:
            await anyio.sleep(0.1)
            other.close()

        async with anyio.create_task_group() as group:
            group.start_soon(free_soon)
            await mine.reserve(20 * MB)  # waits for the other request, then gets its bytes
        assert pool.used == 20 * MB

    anyio.run(main)


def test_flattening_onto_white_matches_alpha_compositing() -> None:
    # The cheaper flattening (paste through alpha onto an RGB canvas) gives alpha_composite's pixels.
    data = IMAGES["rgba.png"]
    image = decode_image(data, max_pixels=10**9)
    source = Image.open(io.BytesIO(data)).convert("RGBA")
    white = Image.new("RGBA", source.size, (255, 255, 255, 255))
    reference = np.asarray(Image.alpha_composite(white, source).convert("RGB"), dtype=np.int16)
    assert image.mode == "RGB" and image.size == (SIDE, SIDE)
    assert int(np.abs(np.asarray(image, dtype=np.int16) - reference).max()) <= 1
    assert image.getpixel((255, 0)) == (255, 255, 255)  # alpha 0: white


def test_failed_loads_keep_no_frames_that_would_hold_the_decoded_images() -> None:
    # A traceback reaches load_images' result list, and through it every decoded image of the batch: a
    # cycle only the garbage collector breaks (a 256-image request kept 650 MB until it ran).
    data = encode(Image.new("RGB", (1000, 1000), "red"))

    async def main() -> list[object]:
        with budget_scope(DecodeBudget(24 * MB)):
            return list(await load_images([ImageSource("bytes", data)] * 8, Settings(model="pixembed-tiny")))

    loaded = anyio.run(main)
    errors = [item for item in loaded if isinstance(item, BudgetFull)]
    assert errors and len(errors) < len(loaded)  # some fitted beside each other, some did not
    assert all(error.__traceback__ is None for error in errors)
