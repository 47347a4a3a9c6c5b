"""torch precisions: a copy of the fp32 open_clip module in bf16, fp16 or dynamic int8.

Each copy is served only after runtime/precision.py has checked it against the fp32 module.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


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
