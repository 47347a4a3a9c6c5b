"""Answers of GET /v1/models, /healthz and /readyz."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pixembed.wire.base import ModelFields, WireModel


class ModelEntry(WireModel):
    """A model that can be named with --model (and --pretrained)."""

    id: str
    model: str
    pretrained: str | None
    loaded: bool
    text_tower: bool = True
    """False for an image-only model: text embedding, text prompts and text search answer 400."""
    description: str = ""


class LoadedModel(ModelFields):
    """The loaded model, and the runtime, precision and device really serving it (after the load check)."""

    runtime: str
    precision: str
    device: str
    image_tower: bool = True
    text_tower: bool = True
    """False for an image-only model (EfficientNet...): text routes answer 400."""
    min_cosine: float | None = None
    """A fast precision's load-time check against fp32 (None where fp32 serves)."""


class ServedModelOut(WireModel):
    """One model this server serves (``model`` on a request picks it by name or alias); dimensions,
    runtime and precision are known once it has loaded."""

    name: str
    aliases: list[str]
    default: bool
    loaded: bool
    load: Literal["start", "lazy"]
    dimensions: int | None
    image_tower: bool = True
    text_tower: bool
    runtime: str
    precision: str
    memory_mb: float | None = None
    """Resident memory its last load added (None until it has loaded)."""
    error: str | None = None


class ModelsResponse(WireModel):
    """The default model (when loaded), every served model, and every known model/pretrained pair."""

    loaded: LoadedModel | None
    served: list[ServedModelOut]
    data: list[ModelEntry]


class Health(WireModel):
    """Liveness: the process answers."""

    status: Literal["ok"] = "ok"


class Readiness(WireModel):
    """Readiness: ``ready`` with the model (200), or why not (503 with ``message``)."""

    status: Literal["ready", "loading", "failed", "store_unavailable"]
    message: str | None = Field(default=None, description="why the server is not ready")
    model: str | None = Field(default=None, description="the model served, once ready")
    dimensions: int | None = None
