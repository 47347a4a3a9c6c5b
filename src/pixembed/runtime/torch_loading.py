"""The torch side of loading (pixembed[torch]): an open_clip module from real weights, torch sessions, export.

Imported only when a model must come through open_clip: a checkpoint not yet exported to ONNX, ``--runtime
torch``, bf16/fp16, or a model whose tokenizer or preprocessing pixembed does not reproduce.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import open_clip
import torch

from pixembed.errors import InvalidRequest, WeightsUnavailable
from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.session import Tokens
from pixembed.runtime.tokenizer import ClipTokenizer, TextTokenizer
from pixembed.runtime.torch_session import TorchSession
from pixembed.runtime.weights import WeightsSource, resolve_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TorchModel:
    """An fp32 open_clip module with pixembed's preprocessing and tokenizer for it."""

    module: Any
    source: WeightsSource
    preprocess: Preprocess
    tokenizer: TextTokenizer
    exportable: bool
    """True when pixembed's own tokenizer reproduces the model's, so an ONNX export serves it exactly."""


class _OpenClipTokenizer:
    """open_clip's own tokenizer (SigLIP and other non-CLIP vocabularies) as numpy ids."""

    def __init__(self, tokenizer: Any, context_length: int) -> None:
        self._tokenizer = tokenizer
        self.context_length = context_length

    def __call__(self, texts: Any) -> Tokens:
        return np.asarray(self._tokenizer(list(texts)).numpy(), dtype=np.int64)


def load_open_clip(options: LoadOptions) -> TorchModel:
    """The fp32 module of ``options.model`` with real weights; raises ``WeightsUnavailable`` otherwise."""
    if options.device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidRequest(f"device {options.device!r} asked for, but torch sees no CUDA device")
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    source = resolve_weights(
        options.model,
        options.pretrained,
        options.weights,
        cache_dir=options.cache_dir,
        download_timeout_s=options.download_timeout_s,
    )
    log.info("loading %s from %s", source.label, source.checkpoint or source.model_name)
    try:
        module = open_clip.create_model(
            source.model_name,
            pretrained=source.checkpoint,
            precision="fp32",
            device=options.device,
            force_quick_gelu=source.quick_gelu,
            cache_dir=options.cache_dir,
            require_pretrained=True,
        )
        reference_tokenizer = open_clip.get_tokenizer(source.model_name, cache_dir=options.cache_dir)
    # A bad checkpoint surfaces from torch/open_clip as pickle, zip, safetensors, KeyError or size-mismatch
    # errors with no common base; all of them mean the same thing to the user.
    except Exception as exc:
        raise WeightsUnavailable(f"could not load {source.label}: {exc}") from exc
    config = dict(open_clip.get_model_preprocess_cfg(module))
    config.update(source.preprocess)
    try:
        preprocess = Preprocess.from_config(config)
    except ValueError as exc:
        raise WeightsUnavailable(f"cannot serve {source.label}: {exc}") from exc
    context = int(getattr(module, "context_length", 77))
    clip_bpe = isinstance(reference_tokenizer, open_clip.tokenizer.SimpleTokenizer) and (
        reference_tokenizer.clean_fn is open_clip.tokenizer._clean_lower
        and reference_tokenizer.reduction_fn is None
        and len(reference_tokenizer.encoder) == 49408
    )
    tokenizer: TextTokenizer = (
        ClipTokenizer(context_length=context)
        if clip_bpe
        else _OpenClipTokenizer(reference_tokenizer, context)
    )
    return TorchModel(module.eval(), source, preprocess, tokenizer, exportable=clip_bpe)


def torch_sessions(model: TorchModel, device: str) -> tuple[TorchSession, Any]:
    """The fp32 session, and a factory of converted ones (``precision`` -> session)."""

    def convert(precision: str) -> TorchSession:
        return TorchSession.converted(model.module, precision, device)

    return TorchSession(model.module, "fp32", device), convert


def default_torch_precision(device: str) -> str:
    """fp16 on CUDA, bf16 where the CPU multiplies it natively, else fp32."""
    from pixembed.runtime.precision import native_bf16

    if device.startswith("cuda"):
        return "fp16"
    if native_bf16():
        return "bf16"
    # Where /proc/cpuinfo is missing, torch's own dispatch level still names AMX-capable CPUs.
    return "bf16" if torch.backends.cpu.get_cpu_capability() == "AVX512_AMX" else "fp32"
