"""Unknown paths, wrong methods and spent limits under each service's prefix answer in its own shape."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pixembed.api.state import state_of
from pixembed.store.keys import KeyStore
from tests.factories import MakeApp

# (service, an unknown path under its prefix, a documented POST route, a body for it, how its key is sent).
ServiceCase = tuple[str, str, str, dict[str, Any], str]
SERVICES: list[ServiceCase] = [
    ("coreviz", "/api/ai/image-search", "/api/ai/embeddings", {"image": "x"}, "x-api-key"),
    ("roboflow", "/clip/embed_video", "/clip/embed_text", {"text": "x"}, "api_key"),
    ("apiclaw", "/openapi/v2/model/nothing", "/openapi/v2/model/image-detection", {}, "Authorization"),
    ("sambastudio", "/api/predict/generic/p/e", "/api/predict/nlp/p/e", {"inputs": ["x"]}, "key"),
]


def assert_service_shape(service: str, body: dict[str, Any], status: int, words: str) -> None:
    """``body`` is ``service``'s own error body for ``status``, and its message says ``words``."""
    if service == "coreviz":
        assert set(body) == {"error", "message"} and words in body["message"]
    elif service == "roboflow":
        assert set(body) == {"message"} and words in body["message"]
    elif service == "apiclaw":
        assert body["success"] is False and words in body["error"]["message"]
        assert body["meta"]["requestId"]
    else:
        assert body["status_code"] == status and words in body["error"]


@pytest.fixture
def app_and_keys(make_app: MakeApp) -> tuple[TestClient, KeyStore]:
    app = make_app()
    return TestClient(app), state_of(app).keys.store


def key_for(how: str, key: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query parameters that send ``key`` the service's way."""
    if how == "api_key":
        return {}, {"api_key": key}
    if how == "Authorization":
        return {"Authorization": f"Bearer {key}"}, {}
    return {how: key}, {}


@pytest.mark.parametrize(("service", "unknown", "route", "body", "how"), SERVICES)
def test_an_unknown_path_under_a_service_prefix_is_a_404_in_its_shape(
    keyed_client: TestClient, service: str, unknown: str, route: str, body: dict[str, Any], how: str
) -> None:
    response = keyed_client.post(unknown, json=body)
    assert response.status_code == 404
    assert_service_shape(service, response.json(), 404, unknown)


@pytest.mark.parametrize(("service", "unknown", "route", "body", "how"), SERVICES)
def test_a_wrong_method_on_a_service_route_is_a_405_in_its_shape(
    keyed_client: TestClient, service: str, unknown: str, route: str, body: dict[str, Any], how: str
) -> None:
    response = keyed_client.get(route)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_service_shape(service, response.json(), 405, "POST")


def test_native_routes_keep_the_native_404_and_405(keyed_client: TestClient) -> None:
    missing = keyed_client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = keyed_client.get("/v1/embed")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    # A path that only starts like a service prefix is not under it.
    assert keyed_client.get("/clipboard").json()["error"] == "not_found"


@pytest.mark.parametrize("limit", ["quota", "rate"])
@pytest.mark.parametrize(("service", "unknown", "route", "body", "how"), SERVICES)
def test_a_spent_limit_on_a_compat_route_is_a_429_with_the_native_rate_limit_headers(
    app_and_keys: tuple[TestClient, KeyStore],
    limit: str,
    service: str,
    unknown: str,
    route: str,
    body: dict[str, Any],
    how: str,
) -> None:
    client, keys = app_and_keys
    key, _ = keys.create(service, ("read",), **{limit: "1/month" if limit == "quota" else "1/hour"})
    headers, params = key_for(how, key)
    with client:
        client.post(route, json=body, headers=headers, params=params)
        refused = client.post(route, json=body, headers=headers, params=params)
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-limit"] == "1"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    reset = int(refused.headers["x-ratelimit-reset"])
    assert 0 < reset <= 31 * 86400 and int(refused.headers["retry-after"]) == reset
    assert_service_shape(service, refused.json(), 429, limit)
