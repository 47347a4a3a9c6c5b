"""Compute precision: pick one for the hardware, convert the model, and prove it against fp32 at load time.

Every fast path (bf16, fp16, int8) is a copy of the fp32 module; it is kept only if its vectors match the
fp32 module's on a small batch of generated pictures and captions (min cosine >= ``MIN_COSINE``). Otherwise
the fp32 module is kept and the log says why.
"""

from __future__ import annotations

import copy
import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixembed.synthetic.shapes import CLASSES, caption, render_shape

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
MIN_COSINE = 0.999
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


@dataclass(frozen=True)
class Converted:
    """The module to serve, the precision it really runs in, and the check that chose it."""

    module: Any
    precision: str
    min_cosine: float | None = None
    fallback_reason: str | None = None


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


def choose_precision(requested: str, device: str) -> str:
    """Resolve ``auto``: fp16 on CUDA, bf16 on CPUs with native bf16 matmuls (AMX, AVX-512 BF16), else fp32.

    int8 is never picked automatically: torch's dynamic int8 Linear measured slower than fp32 on an AVX2
    machine and slower than bf16 on an AMX one (docs/benchmarks.md), so it stays an explicit choice.
    """
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "fp16"
    flags = cpu_flags()
    if "amx_bf16" in flags or "avx512_bf16" in flags:
        return "bf16"
    # Where /proc/cpuinfo is missing, torch's own dispatch level still names AMX-capable CPUs.
    if not flags and torch.backends.cpu.get_cpu_capability() == "AVX512_AMX":  # pragma: no cover
        return "bf16"
    return "fp32"


def convert(module: Any, precision: str) -> Any:
    """A copy of the fp32 ``module`` running in ``precision`` (the module itself for fp32)."""
    if precision == "fp32":
        return module
    if precision == "int8":
        return _quantize_int8(module)
    return copy.deepcopy(module).to(DTYPES[precision])


def _quantize_int8(module: Any) -> Any:
    """Dynamic int8 quantisation of every Linear layer (weights int8, activations quantised per batch)."""
    engines = torch.backends.quantized.supported_engines
    # oneDNN measured fastest of the three on both machines tried; x86 picks between fbgemm and oneDNN.
    for engine in ("onednn", "x86", "fbgemm"):
        if engine in engines:
            torch.backends.quantized.engine = engine
            break
    # Only the transformer MLPs (two thirds of a block's matmul work): some towers read other Linear layers'
    # ``.weight`` directly (ModifiedResNet's attention pool), which a quantised layer no longer has.
    mlp_layers = {
        name
        for name, layer in module.named_modules()
        if isinstance(layer, torch.nn.Linear) and ".mlp." in f"{name}."
    }
    with warnings.catch_warnings():
        # torch deprecates eager-mode quantisation in favour of torchao, which this venv does not have.
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            copy.deepcopy(module), mlp_layers, dtype=torch.qint8
        )
    for name in mlp_layers:
        # open_clip asks ``mlp.c_fc.weight.dtype`` for the tower's input dtype unless this attribute says it
        # (the hook it keeps for int8 layers).
        quantized.get_submodule(name).int8_original_dtype = torch.float32
    return quantized


def check_images() -> list[Image.Image]:
    """A fixed, varied batch of generated pictures for the load-time check."""
    rng = np.random.default_rng(6)
    return [render_shape(shape, colour, size=96, rng=rng) for shape, colour in CLASSES[::7][:6]]


def check_texts() -> list[str]:
    """A fixed batch of captions, short and long, for the load-time check."""
    return [caption(shape, colour) for shape, colour in CLASSES[::7][:6]] + ["", "a photo of " * 40]


def select(
    module: Any,
    requested: str,
    device: str,
    preprocess: Callable[[Image.Image], torch.Tensor],
    tokenizer: Callable[[list[str]], torch.Tensor],
    *,
    min_cosine: float = MIN_COSINE,
) -> Converted:
    """Convert ``module`` to the requested (or automatic) precision if it matches fp32; else keep fp32."""
    precision = choose_precision(requested, device)
    if precision == "fp32":
        return Converted(module, "fp32")
    target = torch.device(device)
    pixels = torch.stack([preprocess(image) for image in check_images()]).to(target)
    tokens = tokenizer(check_texts()).to(target)
    try:
        fast = convert(module, precision)
        with torch.inference_mode():
            ref = [module.encode_image(pixels), module.encode_text(tokens)]
            out = [fast.encode_image(pixels.to(DTYPES[precision])), fast.encode_text(tokens)]
    # Unsupported dtypes and quantised kernels fail with RuntimeError, NotImplementedError or TypeError
    # depending on the op, the architecture and the build; whichever it is, the answer is to serve fp32.
    except Exception as exc:
        reason = f"{precision} does not run here: {exc}"
        log.warning("precision %s refused, using fp32: %s", precision, reason)
        return Converted(module, "fp32", None, reason)
    cosine = min(_min_cosine(a, b) for a, b in zip(ref, out, strict=True))
    if not cosine >= min_cosine:  # also catches NaN
        reason = f"{precision} vectors differ from fp32 (min cosine {cosine:.5f} < {min_cosine})"
        log.warning("precision %s refused, using fp32: %s", precision, reason)
        return Converted(module, "fp32", cosine, reason)
    log.info("precision %s checked against fp32: min cosine %.5f", precision, cosine)
    return Converted(fast, precision, cosine)


def _min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=1).min())
