"""``OnnxSession``: an ONNX model folder's towers (one for an image-only model) through ONNX Runtime (CPU, or
CUDA when present).

int8 is ONNX Runtime's dynamic quantisation (weights int8 per output channel, activations quantised per
batch), written once beside the fp32 graph and checked against it at load like every precision.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pixembed.errors import NoTextTower
from pixembed.runtime.onnx_folder import OnnxFolder
from pixembed.runtime.session import Pixels, SessionInfo, Tokens, Vectors, normalise, trimmed_length

log = logging.getLogger(__name__)

ONNX_PRECISIONS = ("fp32", "int8")
# First the op types immich-style exports spend their time in; all ops if MatMul alone misses the bar.
INT8_OP_SETS: tuple[tuple[str, ...], ...] = (("MatMul",), ("MatMul", "Gemm", "Conv"))


def providers_for(device: str) -> list[str]:
    """ONNX Runtime providers for ``device``; raises ``ValueError`` where CUDA is asked for but absent."""
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError("ONNX Runtime here has no CUDA provider (install onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class _Tower:
    """One graph: its input name, id dtype, and whether its batch axis is fixed (immich's folders: 1)."""

    def __init__(self, path: Path, options: ort.SessionOptions, providers: list[str]) -> None:
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        feed = self.session.get_inputs()[0]
        self.input = feed.name
        self.int32 = feed.type == "tensor(int32)"
        self.fixed_batch = isinstance(feed.shape[0], int)
        self.fixed_length = isinstance(feed.shape[-1], int)

    def run(self, rows: npt.NDArray[Any]) -> Vectors:
        if self.int32:
            rows = rows.astype(np.int32)
        if self.fixed_batch and len(rows) != 1:
            return np.concatenate([self.run(rows[i : i + 1]) for i in range(len(rows))])
        out = self.session.run(None, {self.input: rows})[0]
        return normalise(out)


class OnnxSession:
    """An ONNX folder's image and text graphs (fp32, or their int8 copies) behind the session protocol."""

    def __init__(
        self,
        folder: OnnxFolder,
        precision: str = "fp32",
        device: str = "cpu",
        threads: int | None = None,
        *,
        int8_dir: Path | None = None,
        int8_ops: tuple[str, ...] = INT8_OP_SETS[0],
    ) -> None:
        if precision not in ONNX_PRECISIONS:
            raise ValueError(f"ONNX Runtime serves {', '.join(ONNX_PRECISIONS)}, not {precision}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3  # warnings about unused initialisers are noise for users
        providers = providers_for(device)
        visual, textual = folder.visual, folder.textual if folder.text_tower else None
        if precision == "int8":
            where = int8_dir or folder.path / "int8"
            visual = int8_graph(visual, where / "visual", int8_ops)
            textual = None if textual is None else int8_graph(textual, where / "textual", int8_ops)
        self._name = folder.name
        self._image = _Tower(visual, options, providers)
        self._text = None if textual is None else _Tower(textual, options, providers)
        self._trim = folder.text_trimmed and self._text is not None and not self._text.fixed_length
        self._lock = threading.Lock()
        self._info = SessionInfo("onnx", precision, "cuda" if device.startswith("cuda") else "cpu")

    @property
    def info(self) -> SessionInfo:
        """onnx, the precision and the device."""
        return self._info

    def encode_images(self, pixels: Pixels) -> Vectors:
        """(N, 3, H, W) pixels -> unit vectors."""
        with self._lock:
            return self._image.run(np.ascontiguousarray(pixels, dtype=np.float32))

    def encode_tokens(self, tokens: Tokens) -> Vectors:
        """Token ids -> unit vectors; a pixembed export runs only up to the batch's last end-of-text."""
        if self._text is None:
            raise NoTextTower.of(self._name)
        if self._trim:
            tokens = tokens[:, : trimmed_length(tokens)]
        with self._lock:
            return self._text.run(np.ascontiguousarray(tokens))


def int8_graph(graph: Path, folder: Path, op_types: tuple[str, ...]) -> Path:
    """The dynamically quantised copy of ``graph``, made once into ``folder`` (atomically); its path.

    Named by the graph's size and modification time, so a re-exported graph is quantised again.
    """
    stat = graph.stat()
    suffix = "-".join(op.lower() for op in op_types)
    target = folder / f"{stat.st_size}-{stat.st_mtime_ns}.int8-{suffix}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from pixembed.runtime.onnx_graphs import expand_half_storage

    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    log.info("quantising %s to int8 (%s)", graph, ", ".join(op_types))
    quantize_dynamic(
        expand_half_storage(onnx.load(str(graph))),
        partial,
        op_types_to_quantize=list(op_types),
        per_channel=True,
        weight_type=QuantType.QInt8,
    )
    os.replace(partial, target)
    return target
