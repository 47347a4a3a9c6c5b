"""Answers of the /v1/keys admin routes."""

from __future__ import annotations

from pydantic import Field

from pixembed.wire.base import WireModel


class KeyOut(WireModel):
    """A key's settings and usage; the secret is never shown again after creation."""

    id: str
    name: str
    scopes: list[str]
    quota: str | None = Field(description="calls per calendar period, e.g. 300/month")
    rate: str | None = Field(description="requests per unit time, e.g. 10/s")
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    total_requests: int
    quota_used: int = Field(description="calls counted in the current quota period")


class KeyList(WireModel):
    """Every live key (or every key, with ``include_revoked``)."""

    keys: list[KeyOut]


class CreatedKey(KeyOut):
    """The new key's record plus the key itself, shown this once."""

    key: str
