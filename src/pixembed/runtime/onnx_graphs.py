"""Graph rewrites on ONNX models that need neither torch nor open_clip (only the ``onnx`` package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

_HALF_SUFFIX = "__fp16"


def op_types(path: Path) -> set[str]:
    """The operator types a graph uses (its weights are not read)."""
    return {node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node}


def store_half_where_exact(path: Path) -> None:
    """Rewrite ``path`` with every float32 weight that fp16 holds exactly stored as fp16 and cast back.

    Lossless (a weight is converted only if it round-trips bit for bit): used for the bundled pixembed-tiny,
    whose checkpoint is fp16, to halve the package. ONNX Runtime folds the casts away when it loads.
    """
    model = onnx.load(str(path))
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        with np.errstate(over="ignore"):  # an overflow to inf simply fails the round trip below
            half = array.astype(np.float16)
        if (
            array.dtype != np.float32
            or array.size < 1024
            or not np.array_equal(half.astype(np.float32), array)
        ):
            kept.append(init)
            continue
        kept.append(numpy_helper.from_array(half, init.name + _HALF_SUFFIX))
        casts.append(
            helper.make_node("Cast", [init.name + _HALF_SUFFIX], [init.name], to=onnx.TensorProto.FLOAT)
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))


def expand_half_storage(model: onnx.ModelProto) -> onnx.ModelProto:
    """Undo ``store_half_where_exact``: fp32 initialisers again, so the int8 quantiser sees the weights."""
    graph = model.graph
    halves = {init.name: init for init in graph.initializer if init.name.endswith(_HALF_SUFFIX)}
    casts = [n for n in graph.node if n.op_type == "Cast" and n.input and n.input[0] in halves]
    if not casts:
        return model
    restored = [
        numpy_helper.from_array(numpy_helper.to_array(halves[n.input[0]]).astype(np.float32), n.output[0])
        for n in casts
    ]
    kept = [init for init in graph.initializer if init.name not in halves]
    del graph.initializer[:]
    graph.initializer.extend(kept + restored)
    nodes = [n for n in graph.node if n not in casts]
    del graph.node[:]
    graph.node.extend(nodes)
    return model
