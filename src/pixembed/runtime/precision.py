"""Precision choices, proven against fp32 at load time, whatever the runtime.

Every fast path (bf16, fp16, int8) is a second session beside the fp32 one; it is kept only if its vectors
match the fp32 session's on a small batch of generated pictures and captions (min cosine >= ``MIN_COSINE``).
Otherwise fp32 serves and the log says why. ``auto`` times the candidates that pass and keeps the fastest.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.session import ModelSession, Pixels, Tokens, Vectors
from pixembed.runtime.tokenizer import TextTokenizer
from pixembed.synthetic.shapes import CLASSES, caption, render_shape

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
MIN_COSINE = 0.999


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX or AVX-512 BF16), where torch bf16 can win."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def check_images() -> list[Image.Image]:
    """A fixed, varied batch of generated pictures for the load-time check."""
    rng = np.random.default_rng(6)
    return [render_shape(shape, colour, size=96, rng=rng) for shape, colour in CLASSES[::7][:6]]


def check_texts() -> list[str]:
    """A fixed batch of captions, short and long, for the load-time check."""
    return [caption(shape, colour) for shape, colour in CLASSES[::7][:6]] + ["", "a photo of " * 40]


@dataclass(frozen=True)
class CheckBatch:
    """The preprocessed pictures and tokenised captions every candidate is checked (and timed) on."""

    pixels: Pixels
    tokens: Tokens | None
    """None for an image-only model."""

    @classmethod
    def build(cls, preprocess: Preprocess, tokenizer: TextTokenizer | None) -> CheckBatch:
        """The fixed check batch in one model's input form (no captions for an image-only model)."""
        tokens = None if tokenizer is None else tokenizer(check_texts())
        return cls(preprocess.batch(check_images()), tokens)


def min_cosine(a: Vectors, b: Vectors) -> float:
    """The smallest row-wise cosine between two batches of vectors (NaN if either has NaN)."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def session_cosine(candidate: ModelSession, reference: ModelSession, batch: CheckBatch) -> float:
    """How closely ``candidate`` reproduces ``reference`` on both towers (the worse of the two)."""
    images = min_cosine(candidate.encode_images(batch.pixels), reference.encode_images(batch.pixels))
    if batch.tokens is None:
        return images
    texts = min_cosine(candidate.encode_tokens(batch.tokens), reference.encode_tokens(batch.tokens))
    return min(images, texts)


@dataclass(frozen=True)
class Choice:
    """The session chosen, the precision it runs, and the check that chose it."""

    session: ModelSession
    min_cosine: float | None = None
    fallback_reason: str | None = None


def checked(
    reference: ModelSession,
    precision: str,
    build: Callable[[], ModelSession],
    batch: CheckBatch,
    *,
    bar: float = MIN_COSINE,
) -> Choice:
    """``build()``'s session if it runs and matches ``reference`` (fp32) at ``bar``; else fp32 and why."""
    try:
        candidate = build()
        cosine = session_cosine(candidate, reference, batch)
    # Unsupported dtypes, kernels and graph rewrites fail with RuntimeError, NotImplementedError, ONNX
    # Runtime's own errors or TypeError depending on the op and the build; each means serve fp32 instead.
    except Exception as exc:
        reason = f"{precision} does not run here: {exc}"
        log.warning("precision %s refused, using fp32: %s", precision, reason)
        return Choice(reference, None, reason)
    if not cosine >= bar:  # also catches NaN
        reason = f"{precision} vectors differ from fp32 (min cosine {cosine:.5f} < {bar})"
        log.warning("precision %s refused, using fp32: %s", precision, reason)
        return Choice(reference, cosine, reason)
    log.info("precision %s checked against fp32: min cosine %.5f", precision, cosine)
    return Choice(candidate, cosine)


def seconds_per_batch(session: ModelSession, pixels: Pixels, repeats: int = 2) -> float:
    """Best-of-``repeats`` time of one image forward over ``pixels``.

    No warm-up pass of its own: every candidate has just run the check batch, and load time counts.
    """
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        session.encode_images(pixels)
        best = min(best, time.perf_counter() - started)
    return best


TORCH_HANDICAP = 1.25
"""How much faster than the best ONNX Runtime choice torch must measure to be served by ``auto``: serving
through torch costs about 1 GB more memory and seconds more start-up (ViT-B/32: 1.5 GB and 8-9 s ready
against 0.56 GB and 4 s), which a near tie does not repay."""


def fastest(choices: Sequence[Choice], pixels: Pixels) -> tuple[Choice, dict[str, float]]:
    """The choice that embeds fastest here (the first when there is only one), and each candidate's time in
    ms, by precision.

    A candidate's time is one image's forward plus the whole check batch's: a server mostly answers single
    images and batches under load, so both count. A torch candidate's time counts ``TORCH_HANDICAP`` times.
    """
    if len(choices) == 1:
        return choices[0], {}
    timed = [
        (seconds_per_batch(choice.session, pixels[:1]) + seconds_per_batch(choice.session, pixels), i)
        for i, choice in enumerate(choices)
    ]
    for seconds, i in timed:
        info = choices[i].session.info
        log.info(
            "auto: %s %s takes %.1f ms for one image plus the check batch",
            info.runtime,
            info.precision,
            seconds * 1000,
        )
    timings = {choices[i].session.info.precision: round(seconds * 1000, 2) for seconds, i in timed}
    handicapped = [
        (seconds * (TORCH_HANDICAP if choices[i].session.info.runtime == "torch" else 1.0), i)
        for seconds, i in timed
    ]
    return choices[min(handicapped)[1]], timings
