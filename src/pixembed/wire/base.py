"""The base of every wire model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A response body (or part of one). ``from_attributes`` lets the server build one from a service's
    dataclass whose fields carry the same names (``SearchHit.model_validate(hit)``); fields a newer server
    adds are ignored by an older client."""

    model_config = ConfigDict(from_attributes=True)


class ModelFields(WireModel):
    """What every embedding response says about the model."""

    model: str
    dimensions: int
