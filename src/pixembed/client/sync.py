"""``Client``: every native route as a blocking method."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from pixembed.client import analysis_operations as analysis
from pixembed.client import operations as ops
from pixembed.client.protocol import Call, Operation
from pixembed.client.transport import DEFAULT_TIMEOUT_S, client_headers, reply_of, request_kwargs, unreachable

P = ParamSpec("P")
T = TypeVar("T")


def _blocking(operation: Callable[P, Operation[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(operation)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(operation(*args, **kwargs))

    return method


class Client:
    """A blocking client for a pixembed server: ``Client("http://127.0.0.1:8000", api_key=...)``.

    Errors the server answers are raised as pixembed's own error classes (``pixembed.errors``) with the
    server's message; vectors come back as float32 numpy arrays. Use it as a context manager, or ``close()``.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=client_headers(api_key), timeout=timeout, transport=transport
        )

    def run(self, operation: Operation[T]) -> T:
        """Drive one operation to its result with blocking I/O."""
        try:
            step = next(operation)
            while True:
                reply: Any = None
                if isinstance(step, Call):
                    reply = self._send(step)
                else:
                    time.sleep(step.seconds)
                step = operation.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result

    def _send(self, call: Call) -> Any:
        try:
            response = self._http.request(call.method, call.path, **request_kwargs(call))
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        return reply_of(call, response)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    embed = _blocking(ops.embed)
    embed_many = _blocking(ops.embed_many)
    embed_text = _blocking(ops.embed_text)
    embed_texts = _blocking(ops.embed_texts)
    compare = _blocking(ops.compare)
    search = _blocking(ops.search)
    models = _blocking(ops.models)
    create_collection = _blocking(ops.create_collection)
    list_collections = _blocking(ops.list_collections)
    get_collection = _blocking(ops.get_collection)
    delete_collection = _blocking(ops.delete_collection)
    add_images = _blocking(ops.add_images)
    add_vectors = _blocking(ops.add_vectors)
    get_item = _blocking(ops.get_item)
    delete_item = _blocking(ops.delete_item)
    thumbnail = _blocking(ops.thumbnail)
    search_collection = _blocking(ops.search_collection)
    get_job = _blocking(ops.get_job)
    wait_for_job = _blocking(ops.wait_for_job)
    dedup = _blocking(analysis.dedup)
    dedup_collection = _blocking(analysis.dedup_collection)
    cluster = _blocking(analysis.cluster)
    cluster_collection = _blocking(analysis.cluster_collection)
    check_duplicate = _blocking(analysis.check_duplicate)
    detect = _blocking(analysis.detect)
    embed_regions = _blocking(analysis.embed_regions)
