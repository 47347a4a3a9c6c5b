"""``pixembed serve --model pixembed-tiny`` as a real process on loopback answers every endpoint."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(process.communicate()[0].decode())
    yield base
    process.terminate()
    process.wait(timeout=20)


def test_every_endpoint_answers(server: str, shape_images: dict[str, list[bytes]]) -> None:
    png = shape_images["a red circle"][0]
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        loaded = http.get("/v1/models").json()["loaded"]
        assert (loaded["model"], loaded["runtime"]) == ("pixembed-tiny", "onnx")
        embed = http.post("/v1/embed", files={"image": ("r.png", png, "image/png")})
        assert embed.status_code == 200
        assert len(embed.json()["vector"]) == embed.json()["dimensions"]
        assert http.post("/v1/embed/text", json={"text": "a red circle"}).status_code == 200
        compare = http.post(
            "/v1/compare",
            files={"image": ("r.png", png)},
            data={"prompts": ["a red circle", "a blue square"]},
        )
        assert compare.json()["ranking"][0]["prompt"] == "a red circle"
        files = [("dataset", (f"{c}-{i}.png", p)) for c, ps in shape_images.items() for i, p in enumerate(ps)]
        search = http.post("/v1/embed/search", files=files, data={"query_text": "a red circle", "top_k": "2"})
        assert [h["filename"][:12] for h in search.json()["results"]] == ["a red circle"] * 2
        bad = http.post("/v1/embed", files={"image": ("x.jpg", b"nope")})
        assert bad.status_code == 415
        assert http.get("/openapi.json").status_code == 200
