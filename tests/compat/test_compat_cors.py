"""Issue 19 item 4: CoreViz documents browser ``fetch``; a browser on an allowed origin gets its preflight
answered and can read the answer, over a real server, with the service's key header."""

from __future__ import annotations

import base64

import httpx
from PIL import Image

from tests.compat.conftest import KEY
from tests.factories import ServeApp
from tests.helpers import encode

APP_ORIGIN = "https://shop.example"


def test_a_browser_on_an_allowed_origin_calls_coreviz(serve_app: ServeApp) -> None:
    image = "data:image/png;base64," + base64.b64encode(encode(Image.new("RGB", (40, 40), "red"))).decode()
    with httpx.Client(base_url=serve_app(api_keys=[KEY], cors_origins=[APP_ORIGIN])) as http:
        # What Chrome sends before fetch(url, {method: "POST", headers: {"x-api-key", "Content-Type"}}).
        preflight = http.options(
            "/api/ai/embeddings",
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        headers = {"Origin": APP_ORIGIN, "x-api-key": KEY}
        answered = http.post("/api/ai/embeddings", json={"image": image}, headers=headers)
        assert answered.status_code == 200 and answered.json()["dimensions"] == len(
            answered.json()["embedding"]
        )
        assert answered.headers["access-control-allow-origin"] == APP_ORIGIN
        # A wrong key is still CoreViz's 401, and the page can read it.
        refused = http.post(
            "/api/ai/embeddings", json={"image": image}, headers={**headers, "x-api-key": "no"}
        )
        assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
        assert refused.headers["access-control-allow-origin"] == APP_ORIGIN
        # Another site gets no CORS answer, and its writes are refused outright.
        other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        assert "access-control-allow-origin" not in http.options("/api/ai/embeddings", headers=other).headers
        assert (
            http.post("/api/ai/embeddings", json={"image": image}, headers={**headers, **other}).status_code
            == 403
        )
