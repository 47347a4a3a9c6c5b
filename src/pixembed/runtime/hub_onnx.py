"""Ready-made ONNX CLIP models from the Hugging Face hub, for installs without torch.

immich publishes each open_clip model it serves as an ONNX folder on the hub, one repository per model and
pretrained tag (``immich-app/ViT-B-32__openai``), in the layout ``runtime.onnx_folder`` reads. A core install
(no torch, so no export) takes the default model from there: from the Hugging Face cache when it is there,
else downloaded once on a networked machine. Offline with nothing cached it fails within seconds, saying how
to supply the model.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pixembed.errors import WeightsUnavailable
from pixembed.runtime.onnx_folder import OnnxFolder, is_onnx_folder, read_onnx_folder
from pixembed.runtime.weights import (
    BUNDLED_MODELS,
    DEFAULT_TAGS,
    HF_HUB_PREFIX,
    LOCAL_DIR_PREFIX,
    hub_reachable,
)

log = logging.getLogger(__name__)

IMMICH_ORGANIZATION = "immich-app"
# What a CPU session needs from an immich repository; its ARM NN / RKNN and fp16 variants are left behind.
_FILES = [
    "config.json",
    "visual/model.onnx",
    "visual/model.onnx_data",
    "visual/preprocess_cfg.json",
    "textual/model.onnx",
    "textual/model.onnx_data",
    "textual/*.json",
    "textual/*.txt",
]


def immich_repository(model: str, pretrained: str | None) -> str | None:
    """immich's hub repository for an open_clip ``model``/``pretrained`` pair, or None for names it cannot
    publish (bundled models, local folders, hf-hub: checkpoints, a model without a known tag)."""
    if model in BUNDLED_MODELS or model.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX)) or "/" in model:
        return None
    tag = pretrained or DEFAULT_TAGS.get(model)
    if tag is None or "/" in tag or Path(tag).suffix:  # a checkpoint file given as the tag
        return None
    return f"{IMMICH_ORGANIZATION}/{model}__{tag}"


def hub_onnx_folder(
    repository: str, cache_dir: str | None = None, download_timeout_s: float = 20.0
) -> OnnxFolder:
    """The ONNX folder of ``repository``: from the Hugging Face cache, else downloaded into it.

    Raises ``WeightsUnavailable`` when it is neither cached nor downloadable, or not an ONNX model folder.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = Path(
            snapshot_download(repository, allow_patterns=_FILES, cache_dir=cache_dir, local_files_only=True)
        )
    except LocalEntryNotFoundError:
        path = None
    if path is None or not is_onnx_folder(path):
        if not hub_reachable(min(download_timeout_s, 5.0)):
            raise WeightsUnavailable(
                _how_to_supply(repository, "it is not cached and the hub is unreachable")
            )
        log.info("downloading the ONNX model %s from the Hugging Face hub (once)", repository)
        try:
            path = Path(
                snapshot_download(
                    repository, allow_patterns=_FILES, cache_dir=cache_dir, etag_timeout=download_timeout_s
                )
            )
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise WeightsUnavailable(_how_to_supply(repository, f"the download failed: {exc}")) from exc
    return read_onnx_folder(path, repository.split("/", 1)[1].replace("__", "/"))


def _how_to_supply(repository: str, why: str) -> str:
    return (
        f"cannot load the ONNX model {repository}: {why}. On a machine with network access, run once to "
        f"cache it (or `huggingface-cli download {repository}`); pass an ONNX model folder with --weights; "
        "install `pixembed[torch]` to export any open_clip checkpoint; or run offline with "
        "--model pixembed-tiny."
    )
