"""The API-key check every protected route shares, and where each client family sends its key.

Keys come from ``Settings.api_keys``; with none configured, auth is off. A later key store (hashed keys,
scopes, quotas) replaces ``key_is_valid`` and nothing else: the dependencies below only find the key.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from pixembed.api.state import get_settings
from pixembed.config import Settings
from pixembed.errors import Unauthorized

KeyDependency = Callable[..., Awaitable[None]]


def key_is_valid(configured: list[str], presented: str) -> bool:
    """True when ``presented`` equals one of the configured keys, compared in constant time."""
    given = presented.encode()
    matched = False
    # Every key is compared, so the time taken does not say which key (or how many) came close.
    for key in configured:
        matched |= hmac.compare_digest(key.encode(), given)
    return matched


def check_key(settings: Settings, presented: str | None, where: str) -> None:
    """Raise ``Unauthorized`` unless auth is off or ``presented`` is valid; ``where`` says how to send one."""
    if not settings.api_keys:
        return
    if not presented:
        raise Unauthorized(f"missing API key: send it as {where}")
    if not key_is_valid(settings.api_keys, presented):
        raise Unauthorized("invalid API key")


def bearer_key(service: str) -> KeyDependency:
    """A dependency that wants the key as ``Authorization: Bearer <key>``."""
    scheme = HTTPBearer(auto_error=False, scheme_name=f"{service} bearer key")

    async def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),
        settings: Settings = Depends(get_settings),
    ) -> None:
        presented = credentials.credentials if credentials else None
        check_key(settings, presented, "an Authorization: Bearer header")

    return dependency


def header_key(service: str, header: str) -> KeyDependency:
    """A dependency that wants the key in the named request header."""
    scheme = APIKeyHeader(name=header, auto_error=False, scheme_name=f"{service} {header} header")

    async def dependency(
        presented: str | None = Depends(scheme), settings: Settings = Depends(get_settings)
    ) -> None:
        check_key(settings, presented, f"the {header!r} header")

    return dependency


def body_or_query_key(service: str, field: str) -> KeyDependency:
    """A dependency that finds the key in the JSON body or query string as ``field``, or as a Bearer header.

    Roboflow's clients put ``api_key`` in the body (v1), the query string (v0), or, in the SDK's header
    transport, an ``Authorization: Bearer`` header; all three reach the same check.
    """
    query = APIKeyQuery(name=field, auto_error=False, scheme_name=f"{service} {field}")
    bearer = HTTPBearer(auto_error=False, scheme_name=f"{service} bearer key")

    async def dependency(
        request: Request,
        in_query: str | None = Depends(query),
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        settings: Settings = Depends(get_settings),
    ) -> None:
        if not settings.api_keys:
            return
        presented = await _json_field(request, field) or in_query
        if presented is None and credentials is not None:
            presented = credentials.credentials
        check_key(settings, presented, f"{field!r} in the JSON body or the query string")

    return dependency


async def _json_field(request: Request, field: str) -> str | None:
    # FastAPI has already read (and cached) the body by the time dependencies run; a body that is not a
    # JSON object simply holds no key here, and the route's own validation reports what is wrong with it.
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    value = body.get(field) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
