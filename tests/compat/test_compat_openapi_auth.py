"""Keys from the environment, the constant-time check, and each service's routes in the OpenAPI document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pixembed.api.auth import key_is_valid
from pixembed.config import Settings

SERVICES = {
    "mSightFlow": {
        "/v1/embed",
        "/v1/embed/search",
        "/embedding/",
        "/embedding/search/",
        "/v1/detect/zero-shot",
        "/cv_tools/perceptual_dedup",
    },
    "CoreViz": {"/api/ai/embeddings"},
    "Roboflow": {"/clip/embed_image", "/clip/embed_text", "/clip/compare"},
    "APIClaw": {"/openapi/v2/model/image-embedding", "/openapi/v2/model/image-detection"},
    "SambaStudio": {"/api/predict/file/{project}/{endpoint}", "/api/predict/nlp/{project}/{endpoint}"},
}


@pytest.mark.parametrize(
    ("env", "keys"),
    [
        ("alpha,beta", ["alpha", "beta"]),
        (" alpha , beta ,", ["alpha", "beta"]),
        ('["alpha", "be,ta"]', ["alpha", "be,ta"]),
        ("", []),
    ],
)
def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, env: str, keys: list[str]) -> None:
    monkeypatch.setenv("PIXEMBED_API_KEYS", env)
    assert Settings().api_keys == keys


def test_keys_are_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXEMBED_API_KEYS", raising=False)
    assert Settings().api_keys == []


def test_key_check_is_exact() -> None:
    keys = ["alpha", "béta"]
    assert key_is_valid(keys, "alpha")
    assert key_is_valid(keys, "béta")
    assert not key_is_valid(keys, "alph")
    assert not key_is_valid(keys, "alpha ")
    assert not key_is_valid(keys, "")


def test_each_service_has_its_tag(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for service, paths in SERVICES.items():
        tagged = {
            path for path, ops in schema["paths"].items() for op in ops.values() if service in op["tags"]
        }
        assert tagged == paths, service
