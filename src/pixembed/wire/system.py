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


class ModelsResponse(WireModel):
    """The loaded model and every known model/pretrained pair."""

    loaded: LoadedModel | None
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
