"""Operations: liveness vs readiness, Prometheus metrics, request ids, JSON logs, the request deadline."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pixembed.api.state import state_of
from pixembed.logs import make_handler
from tests.factories import MakeClient


def test_healthz_is_alive_while_readyz_waits_for_the_model(make_client: MakeClient) -> None:
    client = make_client(model=None, lifespan=False)  # the model never loads
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "loading"


def test_readyz_wants_the_store_open_too(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/readyz").json()["status"] == "ready"
    state_of(client.app).collections.store.close()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "store_unavailable"
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_template_and_time_the_model_load(make_client: MakeClient) -> None:
    client = make_client(model=None)  # the lifespan loads pixembed-tiny
    assert client.get("/readyz").status_code == 200
    for _ in range(3):
        client.get("/v1/collections/nope")
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    count = re.search(
        r'pixembed_requests_total\{method="GET",route="/v1/collections/\{name\}",status="404"\} (\S+)', text
    )
    assert count is not None and float(count.group(1)) >= 3
    assert 'pixembed_request_seconds_bucket{le="0.005",route="/v1/collections/{name}"}' in text
    load = re.search(r"^pixembed_model_load_seconds (\S+)$", text, re.MULTILINE)
    assert load is not None and float(load.group(1)) > 0
    for family in ("pixembed_batch_size", "pixembed_queue_depth"):
        assert f"# TYPE {family}" in text


def test_invented_http_methods_share_one_metrics_label(client: TestClient) -> None:
    for i in range(5):
        assert client.request(f"BREW{i}", "/healthz").status_code == 405
    client.request("PURGE", "/v1/collections")
    text = client.get("/metrics").text
    assert "BREW" not in text and "PURGE" not in text
    other = re.search(r'pixembed_requests_total\{method="other",route="/healthz",status="405"\} (\S+)', text)
    assert other is not None and float(other.group(1)) >= 5


def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(client: TestClient) -> None:
    fresh = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    assert client.get("/nowhere").headers["x-request-id"]
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"})
    assert kept.headers["x-request-id"] == "lb-7f3a:42"
    for hostile in ("has spaces", "x" * 500, 'quote"and{json}'):
        replaced = client.get("/healthz", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", replaced)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logger = logging.getLogger("pixembed.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_each_request_logs_one_json_line_with_its_id(client: TestClient, log_lines: io.StringIO) -> None:
    response = client.post("/v1/embed/text", json={"text": "a red circle"}, headers={"X-Request-ID": "abc-1"})
    assert response.status_code == 200
    [line] = [json.loads(raw) for raw in log_lines.getvalue().splitlines()]
    assert line["request_id"] == "abc-1"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/v1/embed/text", 200)
    assert line["level"] == "INFO" and line["duration_ms"] > 0


def test_a_request_past_the_deadline_is_a_504(make_client: MakeClient) -> None:
    def slow_body() -> Iterator[bytes]:
        yield b'{"text": '
        time.sleep(0.5)
        yield b'"a red circle"}'

    client = make_client(request_timeout_s=0.2)
    response = client.post(
        "/v1/embed/text", content=slow_body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 504
    assert response.json()["error"] == "deadline_exceeded"
    assert "PIXEMBED_REQUEST_TIMEOUT_S" in response.json()["message"]
    assert client.get("/healthz").status_code == 200
