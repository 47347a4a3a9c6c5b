"""The models one server serves: from ``--model A --model B`` or a models file (TOML, or JSON).

A models file names each model with its own settings, the first (or ``default``) serving requests that
name none::

    default = "pixembed-tiny"            # optional: else the first [[models]] entry

    [[models]]
    name = "pixembed-tiny"               # what requests call it (and what --model takes)
    aliases = ["clip", "ViT-B-32"]       # more names: CoreViz ``model``, Roboflow ``clip_version_id``...

    [[models]]
    name = "photo"
    model = "efficientnet-lite0"         # what is loaded, when it differs from ``name``
    precision = "fp32"                   # and pretrained, weights, runtime, device: as on the command line
    load = "lazy"                        # "start" (default) or on first use

    [sambastudio.endpoints]              # SambaStudio's project/endpoint ids -> a model above
    "my-project/photo-endpoint" = "photo"

TOML is read with the standard library's ``tomllib``; a ``.json`` file with the same keys works too.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixembed.errors import InvalidRequest, UnknownModel
from pixembed.runtime.options import LoadOptions
from pixembed.runtime.weights import DEFAULT_TAGS

if TYPE_CHECKING:
    from pixembed.config import Settings

LoadWhen = Literal["start", "lazy"]


@dataclass(frozen=True)
class ServedModel:
    """One model a server serves: the name requests use, how it loads, its other names."""

    name: str
    options: LoadOptions
    aliases: tuple[str, ...] = ()
    load: LoadWhen = "start"

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a request may choose it by: its own, its aliases, and the model it loads
        (``ViT-B-32`` and ``ViT-B-32/openai`` where it is that)."""
        options = self.options
        loaded = [options.model]
        # What collections record (``ViT-B-32/openai``), known before the model ever loads.
        tag = options.pretrained or (None if options.weights else DEFAULT_TAGS.get(options.model))
        if tag:
            loaded.append(f"{options.model}/{tag}")
        return tuple(dict.fromkeys([self.name, *self.aliases, *loaded]))


@dataclass(frozen=True)
class ModelsConfig:
    """The served models, the default first, and what SambaStudio's endpoint ids map to."""

    models: tuple[ServedModel, ...]
    sambastudio_endpoints: Mapping[str, str] = field(default_factory=dict)

    @property
    def default(self) -> ServedModel:
        """The model for requests that name none."""
        return self.models[0]

    def sambastudio_model(self, project: str, endpoint: str) -> str | None:
        """The model SambaStudio's ``project``/``endpoint`` ids map to (``"project/endpoint"``, else the
        endpoint id alone); None (the default) where no endpoint is mapped at all; ``UnknownModel`` for ids
        that are not mapped while others are."""
        if not self.sambastudio_endpoints:
            return None
        for key in (f"{project}/{endpoint}", endpoint):
            if key in self.sambastudio_endpoints:
                return self.sambastudio_endpoints[key]
        mapped = list(self.sambastudio_endpoints)
        raise UnknownModel.of(f"{project}/{endpoint}", mapped, "SambaStudio endpoint")


class _ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    model: str | None = None
    pretrained: str | None = None
    weights: Path | None = None
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] | None = None
    runtime: Literal["auto", "onnx", "torch"] | None = None
    device: str | None = None
    aliases: list[str] = Field(default_factory=list)
    load: LoadWhen = "start"


class _SambaStudio(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoints: dict[str, str] = Field(default_factory=dict)


class _ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    models: list[_ModelEntry] = Field(min_length=1)
    sambastudio: _SambaStudio = Field(default_factory=_SambaStudio)


def models_from_settings(settings: Settings) -> ModelsConfig:
    """What ``settings`` serve: its models file, else ``model`` and then ``extra_models``, loaded at start."""
    base = LoadOptions.from_settings(settings)
    if settings.models_file is not None:
        return read_models_file(settings.models_file, base)
    names = list(dict.fromkeys([settings.model, *settings.extra_models]))
    models = [ServedModel(name, replace(base, model=name)) for name in names]
    # The --pretrained and --weights flags name the default model's weights, not every model's.
    models[1:] = [replace(m, options=replace(m.options, pretrained=None, weights=None)) for m in models[1:]]
    return ModelsConfig(tuple(models))


def read_models_file(path: Path, base: LoadOptions) -> ModelsConfig:
    """Parse a models file (TOML, or JSON by its suffix); each entry's unset fields come from ``base``."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        parsed = _ModelsFile.model_validate(raw)
    except OSError as exc:
        raise InvalidRequest(f"cannot read the models file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"the models file {path} is not valid {_format(path)}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidRequest(f"the models file {path} is not right: {problems}") from exc
    return _config(parsed, base, path)


def _format(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"


def _config(parsed: _ModelsFile, base: LoadOptions, path: Path) -> ModelsConfig:
    models = []
    for entry in parsed.models:
        changes = {
            key: value
            for key, value in entry.model_dump(
                include={"pretrained", "weights", "precision", "runtime", "device"}
            ).items()
            if value is not None
        }
        # The base's pretrained/weights are the command line's default model's: never another entry's.
        changes = {"pretrained": None, "weights": None} | changes
        options = replace(base, model=entry.model or entry.name, **changes)
        if options.weights is not None and not options.weights.is_absolute():
            # A relative weights path is relative to the models file, not to wherever the server starts.
            options = replace(options, weights=path.parent / options.weights)
        models.append(ServedModel(entry.name, options, tuple(entry.aliases), entry.load))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"the models file {path} names a model twice: {', '.join(names)}")
    if parsed.default is not None:
        chosen = [m for m in models if parsed.default in m.names]
        if not chosen:
            raise InvalidRequest(f"the models file {path}: default {parsed.default!r} is none of {names}")
        models.remove(chosen[0])
        models.insert(0, chosen[0])
    known = {name for m in models for name in m.names}
    for endpoint, model in parsed.sambastudio.endpoints.items():
        if model not in known:
            raise InvalidRequest(
                f"the models file {path}: SambaStudio endpoint {endpoint!r} names {model!r}, "
                f"which is none of the models ({', '.join(names)})"
            )
    return ModelsConfig(tuple(models), dict(parsed.sambastudio.endpoints))
