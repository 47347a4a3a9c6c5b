"""API keys on every protected route: where each client family sends its key, scopes, rate limits, quotas.

Keys come from the key store (``pixembed keys create``: hashed, scoped, rate-limited) and from
``Settings.api_keys`` (``PIXEMBED_API_KEYS``: full scope, no limits). With neither, auth is off.

Auth never falls open while the server runs (``KeyService.auth_on``): it is on from startup when either
source has (or ever had) a key, it turns on for good the moment a first key appears, and revoking the last
admin key over HTTP is refused.

Keys are checked before a body is read: routes use ``AuthFirstRoute`` (or a subclass), which runs the key
check of the route's dependency from the headers and query string first; only Roboflow, whose clients may
put ``api_key`` in the JSON body, reads a body before auth, and then under a low cap. Native routes take
``Authorization: Bearer`` or ``x-api-key`` through ``require_scope``; each compatibility router finds the key
where its service sends it and then goes through the same ``admit``.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from pixembed.api.bodies import limit_body
from pixembed.api.state import app_state
from pixembed.config import Settings
from pixembed.errors import Forbidden, RateLimited, Unauthorized
from pixembed.services.key_service import SCOPES, Decision

Scope = Literal["read", "write", "admin"]
KeyDependency = Callable[..., Awaitable[None]]
KeyCheck = Callable[[Request], Awaitable[None]]
ScopeRule = Scope | Callable[[Request], Scope]
_CHECK_ATTRIBUTE = "pixembed_key_check"


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
    """True when this request needs a key (see ``KeyService.auth_on``)."""
    return app_state(request).keys.auth_on


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
    request.state.admitted = True
    return principal


@dataclass(frozen=True)
class Credits:
    """What one request cost its key, for services that report credits: calls charged and quota left."""

    consumed: int
    """1 once the key was accepted and the call admitted; 0 if refused (401, 403, 429) or unchecked."""
    remaining: int | None
    """Calls left in the key's quota period after this one; None for a key without a quota (or no key)."""


def credits_of(request: Request) -> Credits:
    """The ``Credits`` of ``request`` so far (before its key is checked: nothing consumed, nothing known)."""
    admitted = bool(getattr(request.state, "admitted", False))
    return Credits(1 if admitted else 0, getattr(request.state, "quota_left", None))


async def _authenticate(request: Request, presented: str | None, where: str) -> Principal:
    if not auth_enabled(request):
        return OPEN
    if not presented:
        raise Unauthorized(f"missing API key: send it as {where}")
    state = app_state(request)
    if key_is_valid(state.settings.api_keys, presented):
        return ENV_KEY
    info = await state.keys.authenticate(presented)
    if info is None:
        raise Unauthorized("invalid API key")
    return Principal(info.name, info.scopes, info.id)


async def _charge(request: Request, principal: Principal) -> None:
    assert principal.key_id is not None
    admission = await app_state(request).keys.admit(principal.key_id)
    request.state.quota_left = admission.quota_left
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


class AuthFirstRoute(APIRoute):
    """A route that checks its key (from headers or the query string) before FastAPI reads the body.

    FastAPI parses a route's body before it runs the route's dependencies, so a key dependency alone would
    let an anonymous client make the server read, and hold, a body of any size first. The checks run are
    those of the key dependencies in the route's own list (its router's ``dependencies`` or its own):
    FastAPI keeps dependencies given to ``include_router`` out of that list, so each router declares its
    key dependency itself. ``tests/api/test_limits.py`` proves no documented route reads a body first.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks: list[KeyCheck] = [
            check for d in self.dependencies if (check := getattr(d.dependency, _CHECK_ATTRIBUTE, None))
        ]

        async def authenticated_first(request: Request) -> Response:
            for check in checks:
                await check(request)
            return await handler(request)

        return authenticated_first


def key_dependency(check: KeyCheck, dependency: KeyDependency) -> KeyDependency:
    """``dependency`` (run and documented by FastAPI), marked so ``AuthFirstRoute`` runs ``check`` first.

    The security parameters of ``dependency`` put the key's location in the OpenAPI document; ``check``
    reads the same headers and query itself, and a second ``admit`` of one request only re-checks the scope.
    """
    setattr(dependency, _CHECK_ATTRIBUTE, check)
    return dependency


_native_bearer = HTTPBearer(auto_error=False, scheme_name="bearer key")
_native_header = APIKeyHeader(name="x-api-key", auto_error=False, scheme_name="x-api-key header")


def require_scope(rule: ScopeRule) -> KeyDependency:
    """A dependency for native routes: a key with ``rule``'s scope, as a Bearer or ``x-api-key`` header.

    ``rule`` is a scope, or a function of the request (for routers that mix reads and writes).
    """

    async def check(request: Request) -> None:
        credentials = await _native_bearer(request)
        presented = credentials.credentials if credentials else await _native_header(request)
        scope = rule if isinstance(rule, str) else rule(request)
        await admit(request, presented, "an Authorization: Bearer or x-api-key header", scope)

    async def dependency(
        request: Request,
        _bearer: HTTPAuthorizationCredentials | None = Depends(_native_bearer),
        _header: str | None = Depends(_native_header),
    ) -> None:
        await check(request)

    return key_dependency(check, dependency)


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

    async def check(request: Request) -> None:
        credentials = await scheme(request)
        presented = credentials.credentials if credentials else None
        await admit(request, presented, "an Authorization: Bearer header", scope)

    async def dependency(
        request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(scheme)
    ) -> None:
        await check(request)

    return key_dependency(check, dependency)


def header_key(service: str, header: str, scope: Scope = "read") -> KeyDependency:
    """A dependency that wants the key in the named request header."""
    scheme = APIKeyHeader(name=header, auto_error=False, scheme_name=f"{service} {header} header")

    async def check(request: Request) -> None:
        await admit(request, await scheme(request), f"the {header!r} header", scope)

    async def dependency(request: Request, _presented: str | None = Depends(scheme)) -> None:
        await check(request)

    return key_dependency(check, dependency)


# A body that may carry the key is read before auth, so it is capped at one base64 image plus room for
# the other fields: enough for every documented Roboflow request, far from the multipart cap.
BODY_KEY_SLACK_BYTES = 64 * 1024


def body_key_cap(settings: Settings) -> int:
    """The body cap of a route that takes its key in the JSON body: one base64 upload, and some slack."""
    return min(settings.max_json_bytes, math.ceil(settings.max_upload_bytes * 4 / 3) + BODY_KEY_SLACK_BYTES)


def body_or_query_key(service: str, field: str, scope: Scope = "read") -> KeyDependency:
    """A dependency that finds the key in the query string or a Bearer header as ``field``, else in the
    JSON body.

    Roboflow's clients put ``api_key`` in the body (v1), the query string (v0), or, in the SDK's header
    transport, an ``Authorization: Bearer`` header; all three reach the same check. The body is read only
    when neither of the others holds a key, and always under ``body_key_cap``.
    """
    query = APIKeyQuery(name=field, auto_error=False, scheme_name=f"{service} {field}")
    bearer = HTTPBearer(auto_error=False, scheme_name=f"{service} bearer key")

    async def check(request: Request) -> None:
        settings = app_state(request).settings
        limit_body(
            request,
            body_key_cap(settings),
            f"{service} requests carry their key in the body, so they are capped at one base64 image "
            "of PIXEMBED_MAX_UPLOAD_MB",
            "send fewer or smaller images per request",
        )
        presented = None
        # Once admitted (AuthFirstRoute ran this before the body), the dependency's run re-parses nothing.
        if auth_enabled(request) and getattr(request.state, "principal", None) is None:
            credentials = await bearer(request)
            presented = await query(request) or (credentials.credentials if credentials else None)
            if presented is None:
                presented = await _json_field(request, field)
        where = f"{field!r} in the JSON body or the query string, or an Authorization: Bearer header"
        await admit(request, presented, where, scope)

    async def dependency(
        request: Request,
        _in_query: str | None = Depends(query),
        _credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> None:
        await check(request)

    return key_dependency(check, dependency)


async def _json_field(request: Request, field: str) -> str | None:
    # The body is capped (body_key_cap) before this reads it; Starlette caches it for the route. A body
    # that is not a JSON object holds no key here, and the route's own validation says what is wrong.
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    value = body.get(field) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
