"""Dynamic batching across concurrent callers, the bounded queue (503 + Retry-After), and the prompt cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import numpy as np
import pytest

from pixembed.metrics import REGISTRY
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.synthetic import CLASSES, render_shape
from tests.factories import MakeClient
from tests.helpers import encode


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the batcher"
        time.sleep(0.005)


def _batch_metric(kind: str) -> float:
    return REGISTRY.get_sample_value(f"pixembed_batch_size_{kind}", {"tower": "image"}) or 0.0


def test_16_concurrent_callers_share_forward_passes_and_each_gets_its_own_vector() -> None:
    model = load_model("pixembed-tiny", batch_wait_ms=100)
    rng = np.random.default_rng(16)
    images = [render_shape(shape, colour, size=96, rng=rng) for shape, colour in CLASSES[::3][:16]]
    singles = np.concatenate([model.embed_images([image]) for image in images])
    before = model.image_batcher.forwards
    items_before = _batch_metric("sum")
    passes_before = _batch_metric("count")
    results: dict[int, np.ndarray] = {}
    start = threading.Barrier(16)

    def call(index: int) -> None:
        start.wait()
        results[index] = model.embed_images([images[index]])[0]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert model.image_batcher.forwards - before < 16 / 2
    # /metrics sees the same: all 16 items, in as many forward passes as the batcher ran.
    assert _batch_metric("sum") - items_before == 16
    assert _batch_metric("count") - passes_before == model.image_batcher.forwards - before
    together = np.stack([results[i] for i in range(16)])
    np.testing.assert_allclose(together, singles, atol=1e-5)
    # Each caller's row is its own image's vector, not a neighbour's from the same batch.
    assert ((together @ singles.T).argmax(axis=1) == np.arange(16)).all()


def test_a_full_queue_answers_503_with_retry_after(make_client: MakeClient) -> None:
    model = load_model("pixembed-tiny", batch_wait_ms=0, max_queue_items=1)
    image = render_shape("circle", "red", size=64, rng=np.random.default_rng(0))
    outcomes: list[np.ndarray] = []
    callers = [
        threading.Thread(target=lambda: outcomes.append(model.embed_images([image]))) for _ in range(2)
    ]
    client = make_client(model=model)
    with model.session._lock:  # type: ignore[attr-defined]  # the model is busy: the first caller's forward waits here
        callers[0].start()
        _wait_for(lambda: model.image_batcher.forwards == 1 and model.image_batcher.depth == 0)
        callers[1].start()
        _wait_for(lambda: model.image_batcher.depth == 1)
        response = client.post("/v1/embed", files={"image": ("x.png", encode(image))})
    for caller in callers:
        caller.join()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "overloaded"
    assert "queue is full" in response.json()["message"]
    # The queued callers were not dropped: both got their vector once the model was free.
    assert len(outcomes) == 2 and all(abs(np.linalg.norm(o) - 1) < 1e-5 for o in outcomes)


def test_a_cached_prompt_returns_the_identical_vector_without_a_forward(tiny_model: ClipModel) -> None:
    first = tiny_model.embed_texts(["a purple heart on a plain background"])
    forwards = tiny_model.text_batcher.forwards
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        again = tiny_model.embed_texts(["a purple heart on a plain background"])
        timings.append(time.perf_counter() - started)
        assert np.array_equal(again, first)
    assert tiny_model.text_batcher.forwards == forwards
    assert float(np.median(timings)) < 0.001


def test_a_batch_of_cached_and_new_prompts_keeps_order_and_duplicates(tiny_model: ClipModel) -> None:
    cached = tiny_model.embed_texts(["a red circle"])[0]
    texts = ["a blue square", "a red circle", "a blue square", "a green star"]
    vectors = tiny_model.embed_texts(texts)
    assert np.array_equal(vectors[1], cached)
    assert np.array_equal(vectors[0], vectors[2])
    fresh = load_model("pixembed-tiny", text_cache_size=0).embed_texts(texts)
    np.testing.assert_allclose(vectors, fresh, atol=1e-5)


def test_a_forward_that_fails_fails_its_callers_not_the_worker(tiny_model: ClipModel) -> None:
    # Pixels of the wrong size: ONNX Runtime refuses the input's dimensions (its errors are plain Exceptions).
    with pytest.raises(Exception, match="dimensions"):
        tiny_model.encode_pixels(np.zeros((1, 3, 8, 8), dtype=np.float32))
    assert tiny_model.embed_images([render_shape("star", "red", rng=np.random.default_rng(1))]).shape[0] == 1


def test_async_callers_wait_for_the_model_without_holding_worker_threads() -> None:
    """With two worker threads only, eight awaiting requests still join one forward pass: a request waiting
    for the model holds no thread (a thread-blocking submit would let at most two wait at a time)."""
    model = load_model("pixembed-tiny", batch_wait_ms=500)
    rng = np.random.default_rng(8)
    images = [render_shape(shape, colour, size=96, rng=rng) for shape, colour in CLASSES[::5][:8]]
    singles = np.concatenate([model.embed_images([image]) for image in images])
    results: dict[int, np.ndarray] = {}

    async def one(index: int) -> None:
        results[index] = (await model.embed_images_async([images[index]]))[0]

    async def main() -> int:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        before = model.image_batcher.forwards
        async with anyio.create_task_group() as group:
            for index in range(len(images)):
                group.start_soon(one, index)
        return model.image_batcher.forwards - before

    assert anyio.run(main) <= 2
    np.testing.assert_allclose(np.stack([results[i] for i in range(len(images))]), singles, atol=1e-5)
