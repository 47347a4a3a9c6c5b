"""Write the bundled ONNX form of pixembed-tiny (src/pixembed/runtime/assets/pixembed-tiny-onnx).

Run after scripts/train_tiny.py (needs pixembed[torch]); the output is committed, so that a torch-free
install serves pixembed-tiny offline. Weights are stored as fp16 where that is exact (all of them: the
checkpoint is fp16), so the vectors equal the open_clip module's.
"""

from __future__ import annotations

from pixembed.runtime.export import export_onnx
from pixembed.runtime.loading import BUNDLED_ONNX
from pixembed.runtime.onnx_graphs import store_half_where_exact
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.torch_loading import load_open_clip

if __name__ == "__main__":
    model = load_open_clip(LoadOptions(model="pixembed-tiny"))
    target = BUNDLED_ONNX["pixembed-tiny"]
    export_onnx(model.module, model.preprocess, target, name="pixembed-tiny")
    for tower in ("visual", "textual"):
        store_half_where_exact(target / tower / "model.onnx")
    # The bundled tokenizer (runtime/assets/clip-tokenizer.json) serves it; no second copy in the package.
    (target / "textual" / "tokenizer.json").unlink()
    print(f"wrote {target}")
