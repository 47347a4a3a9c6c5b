"""Model-only measurements for ``pixembed bench``, side by side in one run: open_clip eager fp32 (the
reference), pixembed's chosen path (through its batcher), and a plain ONNX Runtime fp32 session (the peers'
path: immich, fastembed)."""

from __future__ import annotations

import functools
import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import open_clip
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from pixembed.runtime.model import ClipModel
from pixembed.runtime.session import ModelSession
from pixembed.synthetic.shapes import CLASSES, render_shape


@dataclass(frozen=True)
class ThroughputRow:
    """Images (or texts) per second at one batch size, for the reference and for pixembed."""

    what: str
    batch: int
    reference_per_s: float
    pixembed_per_s: float
    onnx_per_s: float
    min_cosine: float


def write_random_weights(model: str, folder: Path, seed: int = 1234) -> Path:
    """Random ``model`` weights as an open_clip state dict (what the fidelity tests use)."""
    torch.manual_seed(seed)
    path = folder / f"{model}-random-seed{seed}.pt"
    torch.save(open_clip.create_model(model).state_dict(), path)
    return path


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A generated scene (a shape on a lit background), enlarged, with sensor-like grain: not a photograph,
    but smooth areas, edges and noise the way a camera JPEG has them."""
    rng = np.random.default_rng(seed)
    shape, colour = CLASSES[seed % len(CLASSES)]
    scene = render_shape(shape, colour, size=256, rng=rng).resize((width, height), Image.Resampling.BICUBIC)
    grain = rng.standard_normal((height, width, 3), dtype=np.float32) * np.float32(6.0)
    pixels = np.asarray(scene, dtype=np.float32) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image) -> bytes:
    """``image`` as a quality-90 JPEG."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def median_seconds(call: Callable[[], Any], reps: int) -> float:
    """Median wall time of ``reps`` calls after one warm-up call."""
    call()
    return statistics.median(_timed(call) for _ in range(reps))


def interleaved_medians(calls: list[Callable[[], Any]], reps: int) -> list[float]:
    """Median wall times of several calls measured in turn, after two warm-ups each, so that all see the
    same conditions on a machine whose load drifts (a shared machine, a CPU changing clocks)."""
    for _ in range(2):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(reps):
        for call, kept in zip(calls, times, strict=True):
            kept.append(_timed(call))
    return [statistics.median(kept) for kept in times]


def min_cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Smallest row-wise cosine between two matrices."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def image_throughput(
    reference: Any, model: ClipModel, plain: ModelSession, batches: tuple[int, ...], reps: int
) -> list[ThroughputRow]:
    """Preprocessed batches through open_clip eager fp32 (``torch.no_grad``), pixembed, and plain ONNX."""
    rows = []
    images = [photo_like(320, 240, seed) for seed in range(max(batches))]
    pixels = model.preprocess.batch(images)
    for batch in batches:
        x = pixels[:batch]
        tensor = torch.from_numpy(x)
        with torch.no_grad():
            ref_vectors = reference.encode_image(tensor).numpy()
            ours = model.encode_pixels(x)
            ref_s, ours_s, plain_s = interleaved_medians(
                [
                    functools.partial(reference.encode_image, tensor),
                    functools.partial(model.encode_pixels, x),
                    functools.partial(plain.encode_images, x),
                ],
                reps,
            )
        cosine = min_cosine(ref_vectors, ours)
        rows.append(ThroughputRow("images", batch, batch / ref_s, batch / ours_s, batch / plain_s, cosine))
    return rows


def text_throughput(
    reference: Any, model: ClipModel, plain: ModelSession, batch: int, reps: int
) -> ThroughputRow:
    """Texts/s at ``batch``; every pixembed call uses new texts, so the prompt cache never answers."""
    counter = iter(range(1_000_000))

    def fresh() -> list[str]:
        n = next(counter)
        return [f"a photo of item {n}-{i}, a {c} {s}" for i, (s, c) in enumerate(CLASSES[:batch])]

    texts = fresh()
    tokens = model.tokenize(texts)
    with torch.no_grad():
        ref_vectors = reference.encode_text(torch.from_numpy(tokens)).numpy()
        ours = model.embed_texts(texts)
        ref_s, ours_s, plain_s = interleaved_medians(
            [
                lambda: reference.encode_text(torch.from_numpy(tokens)),
                lambda: model.embed_texts(fresh()),
                lambda: plain.encode_tokens(tokens),
            ],
            reps,
        )
    cosine = min_cosine(ref_vectors, ours)
    return ThroughputRow("texts", batch, batch / ref_s, batch / ours_s, batch / plain_s, cosine)


def cached_prompt_ms(model: ClipModel, calls: int = 200) -> float:
    """Median milliseconds for a prompt already embedded once."""
    model.embed_texts(["a photo of a cat"])
    return 1000 * median_seconds(lambda: model.embed_texts(["a photo of a cat"]), calls)


def image_gflop(reference: Any, image_size: int) -> float:
    """GFLOP of one image through the image tower, counted by torch's FLOP counter (matmuls and convs)."""
    counter = FlopCounterMode(display=False)
    # The fused attention fast path is one opaque op to the counter, which would miss its projections.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with counter, torch.no_grad():
            reference.encode_image(torch.zeros(1, 3, image_size, image_size))
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() / 1e9


def matmul_peak_gflops(dtype: torch.dtype, n: int = 1024, reps: int = 12) -> float:
    """The best GFLOP/s of an n x n matmul in ``dtype``: the ceiling to measure the towers against."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps + 1))
    return 2 * n**3 / best / 1e9


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started
