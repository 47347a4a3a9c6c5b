"""``AsyncClient``: every native route as a coroutine method."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio
import httpx

from pixembed.client import analysis_operations as analysis
from pixembed.client import operations as ops
from pixembed.client.protocol import Call, Operation
from pixembed.client.transport import DEFAULT_TIMEOUT_S, client_headers, reply_of, request_kwargs, unreachable

P = ParamSpec("P")
T = TypeVar("T")


def _awaitable(
    operation: Callable[P, Operation[T]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(operation)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.run(operation(*args, **kwargs))

    return method


class AsyncClient:
    """An async client for a pixembed server: ``AsyncClient("http://127.0.0.1:8000", api_key=...)``.

    Errors the server answers are raised as pixembed's own error classes (``pixembed.errors``) with the
    server's message; vectors come back as float32 numpy arrays. Use it as an async context manager, or
    ``await aclose()``.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=client_headers(api_key), timeout=timeout, transport=transport
        )

    async def run(self, operation: Operation[T]) -> T:
        """Drive one operation to its result with async I/O."""
        try:
            step = next(operation)
            while True:
                reply: Any = None
                if isinstance(step, Call):
                    reply = await self._send(step)
                else:
                    await anyio.sleep(step.seconds)
                step = operation.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result

    async def _send(self, call: Call) -> Any:
        try:
            response = await self._http.request(call.method, call.path, **request_kwargs(call))
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        return reply_of(call, response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    embed = _awaitable(ops.embed)
    embed_many = _awaitable(ops.embed_many)
    embed_text = _awaitable(ops.embed_text)
    embed_texts = _awaitable(ops.embed_texts)
    compare = _awaitable(ops.compare)
    search = _awaitable(ops.search)
    models = _awaitable(ops.models)
    create_collection = _awaitable(ops.create_collection)
    list_collections = _awaitable(ops.list_collections)
    get_collection = _awaitable(ops.get_collection)
    delete_collection = _awaitable(ops.delete_collection)
    add_images = _awaitable(ops.add_images)
    add_vectors = _awaitable(ops.add_vectors)
    get_item = _awaitable(ops.get_item)
    delete_item = _awaitable(ops.delete_item)
    thumbnail = _awaitable(ops.thumbnail)
    search_collection = _awaitable(ops.search_collection)
    get_job = _awaitable(ops.get_job)
    wait_for_job = _awaitable(ops.wait_for_job)
    dedup = _awaitable(analysis.dedup)
    dedup_collection = _awaitable(analysis.dedup_collection)
    cluster = _awaitable(analysis.cluster)
    cluster_collection = _awaitable(analysis.cluster_collection)
    check_duplicate = _awaitable(analysis.check_duplicate)
    detect = _awaitable(analysis.detect)
    embed_regions = _awaitable(analysis.embed_regions)
