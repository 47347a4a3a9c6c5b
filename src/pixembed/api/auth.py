"""API keys on every protected route: where each client family sends its key, scopes, rate limits, quotas.

Keys come from the key store (``pixembed keys create``: hashed, scoped, rate-limited) and from
``Settings.api_keys`` (``PIXEMBED_API_KEYS``: full scope, no limits). With neither, auth is off. Native
routes take ``Authorization: Bearer`` or ``x-api-key`` through ``require_scope``; each compatibility router
finds the key where its service sends it and then goes through the same ``admit``.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anyio
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from pixembed.errors import Forbidden, RateLimited, Unauthorized
from pixembed.store.keys import SCOPES, KeyStore
from pixembed.store.limits import Decision

Scope = Literal["read", "write", "admin"]
KeyDependency = Callable[..., Awaitable[None]]
ScopeRule = Scope | Callable[[Request], Scope]


@dataclass(frozen=True)
class Principal:
    """Who a request runs as: a stored key, an environment key, or nobody when auth is off."""

    name: str
    scopes: tuple[str, ...]
    key_id: str | None = None


OPEN = Principal("anonymous (auth off)", SCOPES)
ENV_KEY = Principal("PIXEMBED_API_KEYS", SCOPES)


def key_is_valid(configured: list[str], presented: str) -> bool:
    """True when ``presented`` equals one of the configured keys, compared in constant time."""
    given = presented.encode()
    matched = False
    # Every key is compared, so the time taken does not say which key (or how many) came close.
    for key in configured:
        matched |= hmac.compare_digest(key.encode(), given)
    return matched


def auth_enabled(request: Request) -> bool:
    """Auth is on as soon as any key exists, in the environment or in the key store."""
    keys: KeyStore = request.app.state.keys
    return bool(request.app.state.settings.api_keys) or keys.has_live_keys()


async def admit(request: Request, presented: str | None, where: str, scope: Scope) -> Principal:
    """Authenticate ``presented``, check ``scope``, and charge the request to the key's rate and quota.

    Raises ``Unauthorized`` (401), ``Forbidden`` (403) or ``RateLimited`` (429). A request is charged
    once, however many dependencies check it; the X-RateLimit-* headers go on its response.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = await _authenticate(request, presented, where)
        request.state.principal = principal
        if principal.key_id is not None and scope in principal.scopes:
            await _charge(request, principal)
    if scope not in principal.scopes:
        raise Forbidden(
            f"this API key ({principal.name}) lacks the {scope!r} scope; it has {', '.join(principal.scopes)}"
        )
    return principal


async def _authenticate(request: Request, presented: str | None, where: str) -> Principal:
    if not auth_enabled(request):
        return OPEN
    if not presented:
        raise Unauthorized(f"missing API key: send it as {where}")
    if key_is_valid(request.app.state.settings.api_keys, presented):
        return ENV_KEY
    keys: KeyStore = request.app.state.keys
    info = keys.authenticate(presented)
    if info is None:
        raise Unauthorized("invalid API key")
    return Principal(info.name, info.scopes, info.id)


async def _charge(request: Request, principal: Principal) -> None:
    keys: KeyStore = request.app.state.keys
    assert principal.key_id is not None
    # The commit is fsynced, so it runs in a worker thread rather than stall the event loop.
    admission = await anyio.to_thread.run_sync(keys.admit, principal.key_id)
    if admission.decision is not None:
        request.state.rate_limit_headers = rate_limit_headers(admission.decision)
    if not admission.allowed:
        assert admission.decision is not None
        limit = admission.decision.limit
        raise RateLimited(
            f"the {admission.refused_by} of key {principal.name!r} ({limit} calls) is used up; "
            f"retry in {math.ceil(admission.decision.retry_after_s)} s",
            retry_after_s=admission.decision.retry_after_s,
        )


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """X-RateLimit-Limit, -Remaining and -Reset (seconds until the window is whole again)."""
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(max(0, math.ceil(decision.reset_s))),
    }


_native_bearer = HTTPBearer(auto_error=False, scheme_name="bearer key")
_native_header = APIKeyHeader(name="x-api-key", auto_error=False, scheme_name="x-api-key header")


def require_scope(rule: ScopeRule) -> KeyDependency:
    """A dependency for native routes: a key with ``rule``'s scope, as a Bearer or ``x-api-key`` header.

    ``rule`` is a scope, or a function of the request (for routers that mix reads and writes).
    """

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_native_bearer),
        header: str | None = Depends(_native_header),
    ) -> None:
        presented = credentials.credentials if credentials else header
        scope = rule if isinstance(rule, str) else rule(request)
        await admit(request, presented, "an Authorization: Bearer or x-api-key header", scope)

    return dependency


def scope_by_route(writes: set[tuple[str, str]], default: Scope = "read") -> Callable[[Request], Scope]:
    """A scope rule: ``"write"`` for the (method, path template) pairs in ``writes``, else ``default``."""

    def rule(request: Request) -> Scope:
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        if (request.method, template) in writes or (request.method, "*") in writes:
            return "write"
        return default

    return rule


def bearer_key(service: str, scope: Scope = "read") -> KeyDependency:
    """A dependency that wants the key as ``Authorization: Bearer <key>``."""
    scheme = HTTPBearer(auto_error=False, scheme_name=f"{service} bearer key")

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(scheme)
    ) -> None:
        presented = credentials.credentials if credentials else None
        await admit(request, presented, "an Authorization: Bearer header", scope)

    return dependency


def header_key(service: str, header: str, scope: Scope = "read") -> KeyDependency:
    """A dependency that wants the key in the named request header."""
    scheme = APIKeyHeader(name=header, auto_error=False, scheme_name=f"{service} {header} header")

    async def dependency(request: Request, presented: str | None = Depends(scheme)) -> None:
        await admit(request, presented, f"the {header!r} header", scope)

    return dependency


def body_or_query_key(service: str, field: str, scope: Scope = "read") -> KeyDependency:
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
    ) -> None:
        presented = None
        if auth_enabled(request):
            presented = await _json_field(request, field) or in_query
            if presented is None and credentials is not None:
                presented = credentials.credentials
        await admit(request, presented, f"{field!r} in the JSON body or the query string", scope)

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
