"""Health, readiness, the model list and the OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from pixembed.config import Settings
from tests.factories import MakeClient


def test_health_ready_and_models(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model"] == "pixembed-tiny"
    models = client.get("/v1/models").json()
    assert models["loaded"]["model"] == "pixembed-tiny"
    ids = {entry["id"] for entry in models["data"]}
    assert {"pixembed-tiny", "ViT-B-32/openai"} <= ids
    assert [e["id"] for e in models["data"] if e["loaded"]] == ["pixembed-tiny"]


def test_openapi_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/embed", "/v1/embed/text", "/v1/compare", "/v1/embed/search", "/v1/models"):
        assert path in paths
    assert "multipart/form-data" in paths["/v1/embed"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_model_that_cannot_load_gives_503_with_the_reason(make_client: MakeClient) -> None:
    settings = Settings(model="ViT-B-32", weights=Path("/nonexistent/weights.pt"), store=":memory:")
    client = make_client(settings, model=None)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "does not exist" in ready.json()["message"]
    response = client.post("/v1/embed/text", json={"text": "hello"})
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["retry-after"]


def test_every_schema_reference_in_openapi_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    text = json.dumps(document)
    names = set(document["components"]["schemas"])
    refs = {ref.split("/")[-1] for ref in re.findall(r'"#/components/schemas/([^"]+)"', text)}
    assert refs <= names, refs - names
    assert (
        "multipart/form-data"
        in document["paths"]["/v1/collections/{name}/items"]["post"]["requestBody"]["content"]
    )
