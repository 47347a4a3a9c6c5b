"""Admin routes for API keys: create, list with usage, show one, revoke (the ``admin`` scope)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from pixembed.api.auth import AuthFirstRoute, AuthSwitch, require_scope
from pixembed.store.keys import KeyStore
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


def _keys(request: Request) -> KeyStore:
    store: KeyStore = request.app.state.keys
    return store


@router.get("", response_model=KeyList)
async def list_keys_route(request: Request, include_revoked: bool = False) -> KeyList:
    """Every key with its scopes, limits and usage; no secrets."""
    infos = await anyio.to_thread.run_sync(_keys(request).list, include_revoked)
    return KeyList(keys=[KeyOut.model_validate(info) for info in infos])


@router.post("", response_model=CreatedKey, status_code=201)
async def create_key_route(request: Request, body: NewKey) -> CreatedKey:
    """Create a key; the response holds the key itself, which is not stored and cannot be shown again."""
    store = _keys(request)
    key, info = await anyio.to_thread.run_sync(
        lambda: store.create(body.name, tuple(body.scopes), body.quota, body.rate)
    )
    switch: AuthSwitch = request.app.state.auth
    switch.latch()  # the first key turns auth on for good; a server that had keys never serves anonymously
    return CreatedKey(key=key, **KeyOut.model_validate(info).model_dump())


@router.get("/{key_id}", response_model=KeyOut)
async def get_key_route(request: Request, key_id: str) -> KeyOut:
    """One key (by id or live name) with its usage."""
    return KeyOut.model_validate(await anyio.to_thread.run_sync(_keys(request).get, key_id))


@router.delete("/{key_id}", response_model=KeyOut)
async def revoke_key_route(request: Request, key_id: str) -> KeyOut:
    """Revoke a key (by id or live name); it stops working at once.

    Revoking the last live admin key is a 409 unless ``PIXEMBED_API_KEYS`` is set (those keys are admins):
    nobody could manage keys any more. The server would still stay closed (auth never falls open).
    """
    keep_an_admin = not request.app.state.settings.api_keys
    store = _keys(request)
    revoked = await anyio.to_thread.run_sync(lambda: store.revoke(key_id, keep_an_admin=keep_an_admin))
    return KeyOut.model_validate(revoked)
