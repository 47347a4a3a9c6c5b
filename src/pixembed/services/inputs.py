"""Turn what a caller sent (file bytes, a URL, base64 or a data URI) into decoded RGB images."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

import anyio
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import BudgetFull, InvalidRequest, PixembedError, TooManyItems
from pixembed.imaging import decode_base64_image, decode_image, fetch_url
from pixembed.imaging.budget import DecodeBudget, current_budget
from pixembed.imaging.decode import plan_decode

SourceKind = Literal["bytes", "url", "base64"]


def check_item_count(count: int, limit: int, noun: str, empty: str, after_limit: str = "") -> None:
    """Refuse a request of no items (400 with ``empty``) or more than ``limit`` (413 naming the ``noun``,
    the limit and ``after_limit``, such as the setting that raises it)."""
    if not count:
        raise InvalidRequest(empty)
    if count > limit:
        raise TooManyItems(f"{count} {noun} in one request; the limit is {limit}{after_limit}")


@dataclass(frozen=True)
class ImageSource:
    """One image as the caller gave it; ``name`` is the upload's filename or the URL, for reports."""

    kind: SourceKind
    data: bytes | str
    name: str | None = None

    @classmethod
    def from_text(cls, text: str, name: str | None = None) -> ImageSource:
        """A string that is an http(s) URL, a data URI, or bare base64."""
        stripped = text.strip()
        if (
            stripped.lower().startswith(("http://", "https://", "ftp://", "file://"))
            or "://" in stripped[:16]
        ):
            return cls("url", stripped, name or stripped[:200])
        return cls("base64", stripped, name)


async def load_image(source: ImageSource, settings: Settings, *, min_side: int | None = None) -> Image.Image:
    """Fetch (for URLs) and decode one image, off the event loop, within the configured limits.

    The decode's peak memory, estimated from the header, is reserved first from the request's decoded-
    bytes budget (and through it the server's; see ``imaging.budget``); the image keeps its share until
    it is freed. ``min_side``: a large JPEG may be decoded scaled down to no less than this (see
    ``decode_image``).
    """
    data = await source_bytes(source, settings)
    budget = current_budget() or DecodeBudget(settings.max_decoded_bytes)
    threads = budget.pool.threads if budget.pool is not None else None
    plan = await anyio.to_thread.run_sync(
        lambda: plan_decode(data, max_pixels=settings.max_image_pixels, min_side=min_side), limiter=threads
    )
    await budget.reserve(plan.peak_bytes)
    try:
        image = await anyio.to_thread.run_sync(
            lambda: decode_image(data, max_pixels=settings.max_image_pixels, min_side=min_side),
            limiter=threads,
        )
    except BaseException:
        budget.release(plan.peak_bytes)
        raise
    budget.keep(image, plan.peak_bytes)
    return image


async def source_bytes(source: ImageSource, settings: Settings) -> bytes:
    """The encoded bytes of a source: fetched for a URL (size-capped), decoded for base64."""
    if source.kind == "url":
        assert isinstance(source.data, str)
        return await fetch_url(
            source.data,
            max_bytes=settings.max_upload_bytes,
            connect_timeout_s=settings.fetch_connect_timeout_s,
            total_timeout_s=settings.fetch_total_timeout_s,
            max_redirects=settings.fetch_max_redirects,
            allow_private=settings.allow_private_urls,
        )
    if source.kind == "base64":
        assert isinstance(source.data, str)
        return decode_base64_image(source.data, max_bytes=settings.max_upload_bytes)
    assert isinstance(source.data, bytes)
    return source.data


async def load_images(
    sources: Sequence[ImageSource], settings: Settings, *, min_side: int | None = None
) -> list[Image.Image | PixembedError]:
    """Load several images concurrently; each slot holds the image or the error that item raised."""
    results: list[Image.Image | PixembedError] = [PixembedError("not loaded")] * len(sources)

    async def one(index: int, source: ImageSource) -> None:
        try:
            results[index] = await load_image(source, settings, min_side=min_side)
        except PixembedError as exc:
            # Without its traceback: the frames it holds reach ``results`` and so every decoded image,
            # a cycle that only the garbage collector would break (a 256-image request kept 650 MB).
            results[index] = exc.with_traceback(None)

    async with anyio.create_task_group() as group:
        for index, source in enumerate(sources):
            group.start_soon(one, index, source)
    return results


@dataclass
class LoadedGroup:
    """Some of the sources, decoded: their positions, the images, and the errors of those that failed.

    ``images`` is emptied once the consumer's turn is over (see ``load_in_groups``)."""

    indices: list[int]
    images: list[Image.Image]
    failures: dict[int, PixembedError]


async def load_in_groups(
    sources: Sequence[ImageSource], settings: Settings, group_size: int, *, min_side: int | None = None
) -> AsyncIterator[LoadedGroup]:
    """Decode ``sources`` up to ``group_size`` at a time, each group freed before the next is decoded.

    An image that did not fit the request's decoded-bytes budget beside its group's is tried again in a
    later group, so that a batch larger than the budget is decoded in turns; one that does not fit
    even alone (or beside what the request holds elsewhere) fails. Groups may come out of order.
    """
    pending = list(range(len(sources)))
    while pending:
        group, pending = pending[:group_size], pending[group_size:]
        loaded = await load_images([sources[i] for i in group], settings, min_side=min_side)
        retry = [i for i, item in zip(group, loaded, strict=True) if isinstance(item, BudgetFull)]
        if retry and len(retry) < len(group):
            pending = retry + pending
            loaded = [item for item in loaded if not isinstance(item, BudgetFull)]
            group = [i for i in group if i not in set(retry)]
        good, images, failed = partition(loaded)
        del loaded
        turn = LoadedGroup([group[g] for g in good], images, {group[g]: e for g, e in failed.items()})
        yield turn
        # Emptied here, not when the consumer's loop rebinds its name: else two groups live at once.
        release_images(turn.images)
        turn.images.clear()
        del images


def release_images(images: Sequence[Image.Image]) -> None:
    """Done with these decoded images: their share of the request's decoded-bytes budget is free again."""
    budget = current_budget()
    if budget is not None:
        for image in images:
            budget.forget(image)


def partition(
    loaded: Sequence[Image.Image | PixembedError],
) -> tuple[list[int], list[Image.Image], dict[int, PixembedError]]:
    """Split ``load_images`` results into (indices of good images, the images, errors by index)."""
    indices: list[int] = []
    images: list[Image.Image] = []
    failures: dict[int, PixembedError] = {}
    for index, item in enumerate(loaded):
        if isinstance(item, PixembedError):
            failures[index] = item
        else:
            indices.append(index)
            images.append(item)
    return indices, images, failures
