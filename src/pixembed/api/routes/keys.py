"""Admin routes for API keys: create, list with usage, show one, revoke (the ``admin`` scope)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.state import get_keys
from pixembed.services.key_service import KeyService
from pixembed.wire import CreatedKey, KeyList, KeyOut

router = APIRouter(
    prefix="/v1/keys",
    tags=["keys"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("admin"))],
)


class NewKey(BaseModel):
    """What to create."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=lambda: ["read"])
    quota: str | None = Field(default=None, examples=["300/month"])
    rate: str | None = Field(default=None, examples=["10/s"])


@router.get("", response_model=KeyList)
async def list_keys_route(include_revoked: bool = False, keys: KeyService = Depends(get_keys)) -> KeyList:
    """Every key with its scopes, limits and usage; no secrets."""
    return KeyList(keys=[KeyOut.model_validate(info) for info in await keys.list_keys(include_revoked)])


@router.post("", response_model=CreatedKey, status_code=201)
async def create_key_route(body: NewKey, keys: KeyService = Depends(get_keys)) -> CreatedKey:
    """Create a key; the response holds the key itself, which is not stored and cannot be shown again.

    The first key turns auth on for good: a server that had keys never serves anonymously.
    """
    key, info = await keys.create(body.name, tuple(body.scopes), body.quota, body.rate)
    return CreatedKey(key=key, **KeyOut.model_validate(info).model_dump())


@router.get("/{key_id}", response_model=KeyOut)
async def get_key_route(key_id: str, keys: KeyService = Depends(get_keys)) -> KeyOut:
    """One key (by id or live name) with its usage."""
    return KeyOut.model_validate(await keys.get(key_id))


@router.delete("/{key_id}", response_model=KeyOut)
async def revoke_key_route(key_id: str, keys: KeyService = Depends(get_keys)) -> KeyOut:
    """Revoke a key (by id or live name); it stops working at once.

    Revoking the last live admin key is a 409 unless ``PIXEMBED_API_KEYS`` is set (those keys are admins):
    nobody could manage keys any more. The server would still stay closed (auth never falls open).
    """
    return KeyOut.model_validate(await keys.revoke(key_id))
