"""Memory for decoded pixels, budgeted in bytes: per request, and across the whole server.

A few bytes of WebP or PNG can declare a hundred million pixels, and colour conversions multiply what
one image costs; counting files or compressed bytes bounds nothing. So every decode first estimates its
peak from the header (``imaging.decode.plan_decode``), reserves that many bytes from the request's
``DecodeBudget`` (``PIXEMBED_MAX_DECODED_MB``: over it, 413) and from the server's ``DecodePool``
(``PIXEMBED_MAX_DECODED_TOTAL_MB``: when it cannot be had within ``PIXEMBED_DECODE_WAIT_S``, 503 with
Retry-After), and only then decodes. Once decoded, the reservation shrinks to the image it produced, and
that too is given back when the image is freed (a ``weakref.finalize`` on it), or when the request ends.

No library budgets memory this way across threads and requests (Pillow's MAX_IMAGE_PIXELS is a global
pixel count per image), so the few lines are written here.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import anyio
from PIL import Image

from pixembed.errors import BudgetFull, ImageTooLarge, Overloaded

MB = 1024 * 1024
# How often a request waiting for the server-wide pool looks again (releases come from any thread).
_POLL_S = 0.02


def _mb(nbytes: int) -> str:
    return f"{nbytes / MB:,.0f} MB"


class DecodePool:
    """The server-wide pool of decoded bytes; thread-safe, waited for from async code."""

    def __init__(self, capacity: int, wait_s: float, threads: int | None = None) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        # Decoding is CPU-bound: more threads than cores only hold more images half-decoded at once, each
        # in its own malloc arena (a 256-image request peaked 110 MB higher with 29 decoding at once).
        self.threads = anyio.CapacityLimiter(threads or max(2, os.cpu_count() or 2))
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes reserved now."""
        return self._used

    def try_acquire(self, nbytes: int) -> bool:
        """Take ``nbytes`` if they are free now."""
        with self._lock:
            if self._used + nbytes > self.capacity:
                return False
            self._used += nbytes
            return True

    async def acquire(self, nbytes: int) -> None:
        """Take ``nbytes``, waiting up to ``wait_s`` for other requests to give some back."""
        if nbytes > self.capacity:
            raise ImageTooLarge(
                f"decoding this image takes about {_mb(nbytes)}, more than the server allows for all "
                f"requests together ({_mb(self.capacity)}, PIXEMBED_MAX_DECODED_TOTAL_MB)"
            )
        deadline = time.monotonic() + self.wait_s
        while not self.try_acquire(nbytes):
            if time.monotonic() >= deadline:
                raise Overloaded(
                    f"the server is decoding other large images ({_mb(self._used)} of "
                    f"{_mb(self.capacity)} in use); try again shortly",
                    retry_after_s=max(1.0, self.wait_s),
                )
            await anyio.sleep(_POLL_S)

    def release(self, nbytes: int) -> None:
        """Give back ``nbytes``."""
        with self._lock:
            self._used = max(0, self._used - nbytes)


class DecodeBudget:
    """One request's decoded bytes: at most ``limit`` held at once, each byte also taken from ``pool``."""

    def __init__(self, limit: int, pool: DecodePool | None = None) -> None:
        self.limit = limit
        self.pool = pool
        self._held = 0
        self._closed = False
        self._lock = threading.Lock()
        self._finalizers: dict[int, Any] = {}  # weakref.finalize by id(image)

    @property
    def held(self) -> int:
        """Bytes this request holds now."""
        return self._held

    async def reserve(self, nbytes: int) -> None:
        """Reserve ``nbytes`` before decoding: ``ImageTooLarge`` (413) past the request's limit,
        ``Overloaded`` (503) when the server-wide pool stays full."""
        with self._lock:
            if nbytes > self.limit:
                raise ImageTooLarge(
                    f"decoding this image takes about {_mb(nbytes)} of memory; one request may use "
                    f"{_mb(self.limit)} (PIXEMBED_MAX_DECODED_MB)"
                )
            if self._held + nbytes > self.limit:
                raise BudgetFull(
                    f"decoding this image takes about {_mb(nbytes)}, and this request already holds "
                    f"{_mb(self._held)} of decoded images; one request may use {_mb(self.limit)} "
                    "(PIXEMBED_MAX_DECODED_MB): send fewer or smaller images per request"
                )
            self._held += nbytes  # counted before waiting, so concurrent decodes of one request add up
        if self.pool is None:
            return
        try:
            await self.pool.acquire(nbytes)
        except BaseException:
            self._give_back(nbytes, to_pool=False)
            raise

    def release(self, nbytes: int) -> None:
        """Give back ``nbytes`` (a decode that failed, or the part of a reservation no longer needed)."""
        self._give_back(nbytes, to_pool=True)

    def keep(self, image: Image.Image, reserved: int) -> None:
        """After a decode that reserved ``reserved``: keep what ``image`` holds until it is freed."""
        held = min(reserved, image_bytes(image))
        self.release(reserved - held)
        key = id(image)
        self._finalizers[key] = weakref.finalize(image, self._freed, key, held)

    def forget(self, image: Image.Image) -> None:
        """The caller is done with ``image``: give its bytes back now rather than when it is collected
        (a worker thread may hold the last reference to what it returned until its next job)."""
        finalizer = self._finalizers.get(id(image))
        if finalizer is not None and finalizer.peek() is not None and finalizer.peek()[0] is image:
            finalizer()

    def _freed(self, key: int, held: int) -> None:
        self._finalizers.pop(key, None)
        self.release(held)

    def close(self) -> None:
        """The request is over: everything still held goes back to the pool."""
        with self._lock:
            held, self._held, self._closed = self._held, 0, True
        if self.pool is not None:
            self.pool.release(held)

    def _give_back(self, nbytes: int, *, to_pool: bool) -> None:
        with self._lock:
            if self._closed or nbytes <= 0:
                return
            nbytes = min(nbytes, self._held)
            self._held -= nbytes
        if to_pool and self.pool is not None:
            self.pool.release(nbytes)


def image_bytes(image: Image.Image) -> int:
    """What Pillow holds for ``image``'s pixels (RGB takes 4 bytes a pixel, as RGBA does)."""
    return image.width * image.height * bytes_per_pixel(image.mode)


_ONE_BYTE_MODES = frozenset({"1", "L", "P"})
_TWO_BYTE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "BGR;15", "BGR;16"})


def bytes_per_pixel(mode: str) -> int:
    """Pillow's storage per pixel for ``mode``: 1 for 1/L/P, 2 for 16-bit, else 4 (RGB is padded)."""
    if mode in _ONE_BYTE_MODES:
        return 1
    if mode in _TWO_BYTE_MODES:
        return 2
    return 4


_current: contextvars.ContextVar[DecodeBudget | None] = contextvars.ContextVar("decode_budget", default=None)


def current_budget() -> DecodeBudget | None:
    """The budget of the request being served, if any (None in library and CLI use)."""
    return _current.get()


@contextlib.contextmanager
def budget_scope(budget: DecodeBudget) -> Iterator[DecodeBudget]:
    """Make ``budget`` the current one for the block (and tasks and threads started in it); close it
    at the end."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
        budget.close()
