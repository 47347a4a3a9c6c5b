"""Find model weights: a local path, the bundled models, the standard caches, or the hub when online.

open_clip (pixembed[torch]) is imported only inside the functions that need it. open_clip can download
weights itself, but offline it either hangs on retries or fails deep inside with a
message that does not say what to do. This module resolves every source first, so that a missing checkpoint
becomes one ``WeightsUnavailable`` error within seconds, naming the model and the ways to supply it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pixembed.errors import NotFound, WeightsUnavailable

ASSETS_DIR = Path(__file__).parent / "assets"
BUNDLED_MODELS: dict[str, Path] = {"pixembed-tiny": ASSETS_DIR / "pixembed-tiny"}
HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
DEFAULT_TAGS: dict[str, str] = {"ViT-B-32": "openai", "ViT-B-16": "openai", "ViT-L-14": "openai"}
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


@dataclass(frozen=True)
class WeightsSource:
    """What to hand open_clip: an architecture name (or local-dir), a checkpoint, and tag overrides."""

    model_name: str
    checkpoint: str | None
    label: str
    quick_gelu: bool = False
    preprocess: dict[str, Any] = field(default_factory=dict)


def default_tag(model: str) -> str | None:
    """The pretrained tag used when none is named: OpenAI's where it exists, else the first listed."""
    import open_clip

    if model in BUNDLED_MODELS or model.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX)):
        return None
    if model in DEFAULT_TAGS:
        return DEFAULT_TAGS[model]
    tags = [tag for name, tag in open_clip.list_pretrained() if name == model]
    return tags[0] if tags else None


def resolve_weights(
    model: str,
    pretrained: str | None = None,
    weights: Path | None = None,
    *,
    cache_dir: str | None = None,
    download_timeout_s: float = 20.0,
) -> WeightsSource:
    """Decide where the weights of ``model`` come from, failing fast when they cannot be had."""
    import open_clip

    if model in BUNDLED_MODELS:
        return WeightsSource(LOCAL_DIR_PREFIX + str(BUNDLED_MODELS[model]), None, model)
    if model.startswith(LOCAL_DIR_PREFIX):
        return WeightsSource(model, None, model)
    if weights is not None:
        return _from_path(model, pretrained, weights)
    if model.startswith(HF_HUB_PREFIX):
        return _from_hf_hub(model, cache_dir, download_timeout_s)
    if model not in open_clip.list_models():
        raise NotFound(
            f"unknown model {model!r}; `pixembed models list` shows the names open_clip and pixembed know"
        )
    tag = pretrained or default_tag(model)
    if tag is None:
        raise WeightsUnavailable(_how_to_supply(model, None, "it has no published pretrained weights"))
    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        if Path(tag).is_file():
            return WeightsSource(model, tag, f"{model}/{Path(tag).name}")
        tags = sorted(t for name, t in open_clip.list_pretrained() if name == model)
        raise NotFound(f"model {model!r} has no pretrained tag {tag!r}; known tags: {', '.join(tags)}")
    checkpoint = _cached_checkpoint(cfg, cache_dir) or _download(
        model, tag, cfg, cache_dir, download_timeout_s
    )
    return WeightsSource(
        model,
        checkpoint,
        f"{model}/{tag}",
        quick_gelu=bool(cfg.get("quick_gelu", False)),
        preprocess={k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg},
    )


def _from_path(model: str, pretrained: str | None, weights: Path) -> WeightsSource:
    import open_clip

    if not weights.exists():
        raise WeightsUnavailable(f"weights path {weights} does not exist")
    if weights.is_dir():
        if (weights / "open_clip_config.json").is_file():
            return WeightsSource(LOCAL_DIR_PREFIX + str(weights), None, f"{model}/{weights.name}")
        raise WeightsUnavailable(
            f"{weights} is a folder without open_clip_config.json; pass the checkpoint file itself"
        )
    # A tag named beside a file still says which preprocessing and activation the checkpoint expects.
    cfg = open_clip.get_pretrained_cfg(model, pretrained) if pretrained else {}
    return WeightsSource(
        model,
        str(weights),
        f"{model}/{weights.name}",
        quick_gelu=bool(cfg.get("quick_gelu", False)),
        preprocess={k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg},
    )


def _split_hub(cfg: dict[str, Any]) -> tuple[str, str]:
    repo_id, filename = os.path.split(str(cfg["hf_hub"]))
    return repo_id, filename or "open_clip_pytorch_model.bin"


def _cached_checkpoint(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """A checkpoint already on disk in the Hugging Face cache or open_clip's URL cache, else None."""
    if cfg.get("file"):
        return str(cfg["file"])
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo_id, filename = _split_hub(cfg)
        candidates = [filename]
        if filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for name in candidates:
            hit = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
            if isinstance(hit, str):
                return hit
    if cfg.get("url"):
        target = Path(cache_dir or Path.home() / ".cache" / "clip") / os.path.basename(str(cfg["url"]))
        if target.is_file():
            return str(target)
    return None


def hub_reachable(timeout_s: float) -> bool:
    """True when the Hugging Face hub answers at all within ``timeout_s``."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        httpx.head(endpoint, timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


def _download(model: str, tag: str, cfg: dict[str, Any], cache_dir: str | None, timeout_s: float) -> str:
    import open_clip

    if not hub_reachable(min(timeout_s, 5.0)):
        raise WeightsUnavailable(_how_to_supply(model, tag, "they are not cached and the hub is unreachable"))
    try:
        path = open_clip.download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as exc:  # open_clip raises bare RuntimeError/FileNotFoundError/OSError here
        raise WeightsUnavailable(_how_to_supply(model, tag, f"the download failed: {exc}")) from exc
    return str(path)


def _from_hf_hub(model: str, cache_dir: str | None, timeout_s: float) -> WeightsSource:
    from huggingface_hub import try_to_load_from_cache

    repo_id = model[len(HF_HUB_PREFIX) :]
    config = try_to_load_from_cache(repo_id, "open_clip_config.json", cache_dir=cache_dir)
    if isinstance(config, str):
        folder = Path(config).parent
        if any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")):
            return WeightsSource(LOCAL_DIR_PREFIX + str(folder), None, model)
    if not hub_reachable(min(timeout_s, 5.0)):
        raise WeightsUnavailable(
            _how_to_supply(model, None, "they are not cached and the hub is unreachable")
        )
    return WeightsSource(model, None, model)


def _how_to_supply(model: str, tag: str | None, why: str) -> str:
    name = f"{model} ({tag})" if tag else model
    return (
        f"cannot load weights for {name}: {why}. Supply them with --weights PATH (an open_clip checkpoint "
        "or state dict, or a folder with open_clip_config.json), put them in the Hugging Face cache "
        "(HF_HOME) by running once with network access, or run offline with --model pixembed-tiny."
    )
