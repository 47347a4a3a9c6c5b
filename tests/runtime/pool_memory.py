"""Run as ``python -m tests.runtime.pool_memory DATA_DIR``: the model pool's memory budget in a fresh process,
so that its resident memory is this scenario's alone. Prints one JSON object (read by test_model_pool.py).

Three models: the tiny CLIP in fp32, the photo model (exported to DATA_DIR's ONNX cache before), the tiny CLIP
in int8. Each is loaded once with no budget, to learn its size; all are unloaded; then the budget is set to
fit the tiny model with the larger of the other two, but not all three, and the tiny model, the photo model,
the tiny model again and the int8 one are asked for in that order: the photo model is then the least
recently used.
"""

from __future__ import annotations

import gc
import json
import sys
from dataclasses import replace

import onnxruntime  # noqa: F401  (imported before the baseline, as the pool does before measuring)

from pixembed.runtime.loading import return_freed_memory
from pixembed.runtime.models_file import ModelsConfig, ServedModel
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.pool import ModelPool, process_rss


def main(data_dir: str) -> None:
    base = LoadOptions(precision="fp32", data_dir=data_dir)  # type: ignore[arg-type]
    served = (
        ServedModel("tiny", replace(base, model="pixembed-tiny"), load="lazy"),
        ServedModel("photo", replace(base, model="efficientnet-lite0"), load="lazy"),
        ServedModel("tiny-int8", replace(base, model="pixembed-tiny", precision="int8"), load="lazy"),
    )
    pool = ModelPool(ModelsConfig(served))
    gc.collect()
    return_freed_memory()
    baseline = process_rss()
    for name in ("tiny", "photo", "tiny-int8"):
        pool.get(name)
    sizes = {m.name: m.size_bytes or 0 for m in pool.models()}
    for name in sizes:
        pool.unload(name)
    smaller, larger = sorted((sizes["photo"], sizes["tiny-int8"]))
    budget = sizes["tiny"] + larger + smaller // 2
    pool.memory_budget_bytes = budget
    peak = 0
    for name in ("tiny", "photo", "tiny", "tiny-int8"):
        pool.get(name)
        peak = max(peak, process_rss() - baseline)
    loaded = [m.name for m in pool.models() if m.loaded]
    print(json.dumps({"sizes": sizes, "budget": budget, "loaded": loaded, "peak_growth": peak}))


if __name__ == "__main__":
    main(sys.argv[1])
