"""Bodies shaped to crash a parser or a store get a 400 with a message, never a 500, and the keep-alive
connection they came on keeps serving (issue 14, item 6; listed in docs/hostile-inputs.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from tests.hostile import DEEP_JSON, HOSTILE_FILTERS, deep_metadata
from tests.live_server import serve_in_thread

# Every route that reads a JSON body of its own.
JSON_ROUTES = [
    "/v1/embed",
    "/v1/compare",
    "/v1/embed/search",
    "/v1/collections/c/items",
    "/v1/collections/c/search",
    "/v1/collections/c/dedup",
    "/v1/collections/c/cluster",
    "/v1/dedup",
    "/v1/cluster",
    "/v1/detect",
    "/v1/embed/regions",
    "/v1/collections/c/duplicates/check",
    # mSightFlow's FAQ and page paths.
    "/embedding/",
    "/embedding/search/",
    "/v1/detect/zero-shot",
    "/cv_tools/perceptual_dedup",
]


@pytest.fixture(scope="module")
def http(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One keep-alive connection to a real uvicorn server, with collection "c" holding one item."""
    settings = Settings(model="pixembed-tiny", data_dir=tmp_path_factory.mktemp("bodies"))
    with (
        serve_in_thread(create_app(settings, tiny_model)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        item = {"id": "one", "vector": [1.0] + [0.0] * 127, "metadata": {"colour": "red"}}
        assert client.post("/v1/collections/c/items", json={"items": [item]}).status_code == 200
        yield client


def _connections(client: httpx.Client) -> int:
    pool: Any = client._transport._pool  # type: ignore[attr-defined]
    return len(pool.connections)


def assert_400_on_same_connection(client: httpx.Client, response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["status"] == 400
    assert words in body["message"], body["message"]
    # The server kept the connection open: the next request reuses it and succeeds.
    assert response.headers.get("connection", "").lower() != "close"
    assert client.get("/healthz").status_code == 200
    assert _connections(client) == 1


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_deeply_nested_json_is_400(http: httpx.Client, path: str) -> None:
    response = http.post(path, content=DEEP_JSON, headers={"content-type": "application/json"})
    assert_400_on_same_connection(http, response, "nested more than 64 levels deep")


def test_a_5000_digit_top_k_is_400(http: httpx.Client) -> None:
    body = '{"text": "red", "top_k": ' + "9" * 5000 + "}"
    response = http.post(
        "/v1/collections/c/search", content=body, headers={"content-type": "application/json"}
    )
    assert_400_on_same_connection(http, response, "cannot be read")


@pytest.mark.parametrize(("name", "where", "words"), HOSTILE_FILTERS, ids=[f[0] for f in HOSTILE_FILTERS])
def test_hostile_filters_are_400(http: httpx.Client, name: str, where: dict[str, Any], words: str) -> None:
    response = http.post("/v1/collections/c/search", json={"text": "red", "filter": where})
    assert_400_on_same_connection(http, response, words)


def test_a_large_but_allowed_filter_still_searches(http: httpx.Client) -> None:
    where = {
        "colour": {"in": ["red"] + [f"c{i}" for i in range(255)]},
        **{f"k{i}": {"ne": i} for i in range(63)},
    }
    response = http.post("/v1/collections/c/search", json={"vector": [1.0] + [0.0] * 127, "filter": where})
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["results"]] == ["one"]


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        (deep_metadata(255), "nested more than 64 levels deep"),  # the body's own depth limit
        (deep_metadata(40), "PIXEMBED_MAX_METADATA_DEPTH"),
        ({"blob": "x" * 70_000}, "PIXEMBED_MAX_METADATA_KB"),
    ],
    ids=["255-deep", "40-deep", "70-KB"],
)
def test_deep_or_huge_metadata_is_refused_at_ingest(http: httpx.Client, metadata: Any, words: str) -> None:
    item = {"id": "bad", "vector": [0.0, 1.0] + [0.0] * 126, "metadata": metadata}
    response = http.post("/v1/collections/c/items", json={"items": [item]})
    assert_400_on_same_connection(http, response, words)
    assert http.get("/v1/collections/c/items/bad").status_code == 404  # nothing was stored
    assert http.post("/v1/collections/c/search", json={"text": "red"}).status_code == 200


def test_metadata_at_the_depth_limit_round_trips(http: httpx.Client) -> None:
    item = {"id": "deep16", "vector": [0.0, 0.0, 1.0] + [0.0] * 125, "metadata": deep_metadata(16)}
    assert http.post("/v1/collections/c/items", json={"items": [item]}).status_code == 200
    assert http.get("/v1/collections/c/items/deep16").json()["metadata"] == deep_metadata(16)
    too_deep = {**item, "id": "deep17", "metadata": deep_metadata(17)}
    response = http.post("/v1/collections/c/items", json={"items": [too_deep]})
    assert_400_on_same_connection(http, response, "nested 17 levels deep; the limit is 16")
