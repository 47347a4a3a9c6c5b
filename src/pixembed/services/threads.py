"""The one helper services use to send a blocking call (a store's SQLite, a fsynced commit) to a thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)`` on a worker thread, awaited, so the event loop keeps serving meanwhile."""
    return await anyio.to_thread.run_sync(lambda: call(*args, **kwargs))
