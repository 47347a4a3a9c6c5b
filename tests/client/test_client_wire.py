"""Every native JSON answer reaches the client through a ``pixembed.wire`` model.

Each client operation is driven against the real app in process (the operations are sans-I/O: the test sends
each ``Call`` itself), so every request the client makes and every answer it parses is recorded; the routes
it calls must cover every native route with a JSON answer, except the admin and probe routes it has no
method for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from fastapi.testclient import TestClient

from pixembed.client import analysis_operations as analysis
from pixembed.client import operations as ops
from pixembed.client.protocol import Call, Operation
from pixembed.client.transport import reply_of, request_kwargs
from pixembed.wire import ClusteringOut, DedupOut, JobOut, WireModel
from tests.contract_images import near_copy
from tests.helpers import is_native_operation

T = TypeVar("T")
RED, BLUE = "a red circle", "a blue square"
# Keys are managed with the CLI (``pixembed keys``); the probes are for load balancers, not programs.
NOT_CLIENT_METHODS = {
    ("GET", "/v1/keys"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys/{key_id}"),
    ("DELETE", "/v1/keys/{key_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


class Driver:
    """Runs client operations against a TestClient, noting the route template of every call."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        document = client.get("/openapi.json").json()
        self.templates = [
            (method.upper(), path, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
            for path, operations in document["paths"].items()
            for method in operations
        ]
        self.json_answers = {
            (method.upper(), path)
            for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if is_native_operation(path, operation)
            and any(
                status.startswith("2") and "application/json" in response.get("content", {})
                for status, response in operation["responses"].items()
            )
        }
        self.called: set[tuple[str, str]] = set()

    def _route(self, call: Call) -> tuple[str, str]:
        path = call.path.split("?")[0]
        return next((m, p) for m, p, pattern in self.templates if m == call.method and pattern.match(path))

    def run(self, operation: Operation[T]) -> T:
        try:
            step = next(operation)
            while True:
                reply: Any = None
                if isinstance(step, Call):
                    self.called.add(self._route(step))
                    response = self.client.request(step.method, step.path, **request_kwargs(step))
                    reply = reply_of(step, response)
                else:
                    time.sleep(step.seconds)
                step = operation.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result


def _wire(result: Any) -> bool:
    """A wire model, a list of them, or what an operation takes out of one (a vector, bytes, nothing)."""
    if isinstance(result, list):
        return all(isinstance(item, WireModel) for item in result)
    return result is None or isinstance(result, WireModel | np.ndarray | bytes)


def test_every_native_json_answer_is_parsed_into_a_wire_model(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    driver = Driver(client)
    red, blue = shape_images[RED][0], shape_images[BLUE][0]
    blue_vector = driver.run(ops.embed(blue))
    runs: list[tuple[str, Callable[[], Operation[Any]]]] = [
        ("embed", lambda: ops.embed(red)),
        ("embed_many", lambda: ops.embed_many([red, blue])),
        ("embed_text", lambda: ops.embed_text(RED)),
        ("embed_texts", lambda: ops.embed_texts([RED, BLUE])),
        ("compare", lambda: ops.compare(red, [RED, BLUE])),
        ("search", lambda: ops.search([red, blue], text=RED, top_k=1)),
        ("models", ops.models),
        ("create_collection", lambda: ops.create_collection("wire")),
        ("add_images", lambda: ops.add_images("wire", [red, blue, near_copy(red)], ids=["r", "b", "r2"])),
        ("add_vectors", lambda: ops.add_vectors("wire", [blue_vector], ids=["v"])),
        ("list_collections", ops.list_collections),
        ("get_collection", lambda: ops.get_collection("wire")),
        ("get_item", lambda: ops.get_item("wire", "r", include_vector=True)),
        ("thumbnail", lambda: ops.thumbnail("wire", "r")),
        ("search_collection", lambda: ops.search_collection("wire", text=RED, top_k=2)),
        ("check_duplicate", lambda: analysis.check_duplicate("wire", near_copy(red))),
        ("dedup", lambda: analysis.dedup([red, blue, near_copy(red)])),
        ("cluster", lambda: analysis.cluster([red, blue, near_copy(red)], k=2)),
        ("dedup_collection", lambda: analysis.dedup_collection("wire", method="phash")),
        ("cluster_collection", lambda: analysis.cluster_collection("wire", k=2)),
        ("detect", lambda: analysis.detect(red, [RED, BLUE])),
        ("embed_regions", lambda: analysis.embed_regions(red, [[0, 0, 32, 32]], texts=[RED])),
        ("delete_item", lambda: ops.delete_item("wire", "v")),
    ]
    for name, operation in runs:
        result = driver.run(operation())
        assert _wire(result), f"{name} returned {type(result).__name__}, not a wire model"

    queued = driver.run(analysis.dedup_collection("wire", method="phash", background=True, wait=False))
    assert isinstance(queued, JobOut) and queued.status == "queued"
    job = driver.run(ops.get_job(queued.id))
    assert isinstance(job, JobOut) and job.kind == "dedup"
    done = driver.run(ops.wait_for_job(queued.id, timeout=60, interval=0.05))
    assert isinstance(done, DedupOut) and [sorted(g.members) for g in done.groups] == [["r", "r2"]]
    clustered = driver.run(analysis.cluster_collection("wire", k=2, background=True))
    assert isinstance(clustered, ClusteringOut)
    driver.run(ops.delete_collection("wire"))

    missing = driver.json_answers - driver.called - NOT_CLIENT_METHODS
    assert not missing, f"native routes no client method calls: {sorted(missing)}"
