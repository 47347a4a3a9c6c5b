"""Every acknowledged write survives kill -9 of the server, ten times over."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.live_server import start_serve_process

pytestmark = pytest.mark.slow
KILLS = 10


def _writer(
    base: str, dims: int, round_no: int, acked: dict[str, list[float]], stop: threading.Event
) -> None:
    rng = np.random.default_rng(round_no)
    batch_no = 0
    with httpx.Client(base_url=base, timeout=10) as http:
        while not stop.is_set():
            vectors = rng.normal(size=(8, dims))
            items = [
                {"id": f"r{round_no}-b{batch_no}-{i}", "vector": v.tolist(), "metadata": {"round": round_no}}
                for i, v in enumerate(vectors)
            ]
            try:
                response = http.post("/v1/collections/durable/items", json={"items": items})
            except httpx.HTTPError:
                return  # the server died mid-request: that batch was never acknowledged
            if response.status_code == 200:
                for item, vector in zip(items, vectors, strict=True):
                    acked[item["id"]] = vector.tolist()
            batch_no += 1


def test_acknowledged_items_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process, base, _ = start_serve_process(data_dir)
    assert httpx.post(f"{base}/v1/collections", json={"name": "durable"}).status_code == 201
    dims = httpx.get(f"{base}/v1/collections/durable").json()["dimensions"]
    acked: dict[str, list[float]] = {}
    rng = np.random.default_rng(0)
    for round_no in range(KILLS):
        stop = threading.Event()
        writer = threading.Thread(target=_writer, args=(base, dims, round_no, acked, stop))
        writer.start()
        time.sleep(float(rng.uniform(0.3, 1.2)))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        stop.set()
        writer.join(timeout=30)
        process, base, _ = start_serve_process(data_dir)
        with httpx.Client(base_url=base, timeout=30) as http:
            count = http.get("/v1/collections/durable").json()["count"]
            assert count >= len(acked), f"round {round_no}: {len(acked)} acknowledged, {count} stored"
            sample = list(acked)[-20:]
            for item_id in sample:
                assert http.get(f"/v1/collections/durable/items/{item_id}").status_code == 200, item_id
                hit = http.post("/v1/collections/durable/search", json={"vector": acked[item_id], "top_k": 1})
                assert hit.json()["results"][0]["id"] == item_id
    process.terminate()
    process.wait(timeout=20)
    assert len(acked) > KILLS * 8  # the writers did get writes acknowledged in most rounds
