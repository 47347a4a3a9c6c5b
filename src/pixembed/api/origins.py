"""What a browser may be tricked into sending: foreign ``Host`` headers and cross-site writes; CORS.

A web page cannot read or change a server on another origin unless that server says so, with two gaps this
module closes:

- **DNS rebinding**: a page at ``attacker.example`` re-points its own name at 127.0.0.1, and its requests
  then reach pixembed as same-origin, with ``Host: attacker.example``. Only the names the server answers to
  are accepted in ``Host``: loopback names, the address it is bound to, ``PIXEMBED_ALLOWED_HOSTS``, and, for
  a server bound to every interface (0.0.0.0 or ::), any IP address literal (a rebinding page always sends
  its own name, never an address).
- **Drive-by writes**: any page may POST a form or a multipart body cross-site without a preflight. A
  state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` (or, without one, ``Referer``) is
  another site is refused unless that origin is in ``PIXEMBED_CORS_ORIGINS``. Requests without either
  header (curl, SDKs, servers) are not from a browser page and pass.

CORS itself is Starlette's ``CORSMiddleware`` over the same allow-list, so preflights are answered on every
route, compatibility routes included.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pixembed.api.errors import error_response
from pixembed.config import Settings
from pixembed.errors import Forbidden, InvalidRequest

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Headers a browser page may read from a cross-origin response (CORS hides all others).
EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
]


def host_name(host: str) -> str:
    """A ``Host`` value's name, lowercased, without port or IPv6 brackets: ``[::1]:80`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OriginPolicy:
    """The names this server answers to and the web origins allowed to call it."""

    names: frozenset[str]
    suffixes: tuple[str, ...]
    any_host: bool
    any_ip_literal: bool
    cors_origins: frozenset[str]
    any_origin: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        """Loopback names, the bound address and ``allowed_hosts``; ``cors_origins`` for browsers."""
        configured = [entry.strip().lower() for entry in settings.allowed_hosts if entry.strip()]
        names = {host_name(entry) for entry in configured if not entry.startswith("*")}
        bound = host_name(settings.host)
        if bound not in WILDCARD_ADDRESSES:
            names.add(bound)
        origins = [origin.strip().rstrip("/").lower() for origin in settings.cors_origins if origin.strip()]
        return cls(
            names=frozenset(names | LOOPBACK_NAMES),
            suffixes=tuple(entry[1:] for entry in configured if entry.startswith("*.")),
            any_host="*" in configured,
            any_ip_literal=bound in WILDCARD_ADDRESSES,
            cors_origins=frozenset(origin for origin in origins if origin != "*"),
            any_origin="*" in origins,
        )

    def allows_host(self, host: str) -> bool:
        """True when ``host`` (a Host header value) names this server."""
        name = host_name(host)
        if self.any_host or name in self.names or name.endswith(self.suffixes):
            return True
        return self.any_ip_literal and _is_ip_literal(name)

    def allows_origin(self, origin: str, host: str) -> bool:
        """True when a page at ``origin`` may change state here: this server's own page, or an allowed one."""
        origin = origin.strip().rstrip("/").lower()
        if self.any_origin or origin in self.cors_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed frames, file: pages) and anything unparseable
        # Same origin: the page was served under the name and port the request is addressed to. Behind a
        # proxy that rewrites Host, the public name in PIXEMBED_ALLOWED_HOSTS counts as this server's own.
        explicit = self.names - LOOPBACK_NAMES
        return parts.netloc == host.strip().lower() or host_name(parts.netloc) in explicit


def _origin_of(headers: dict[bytes, bytes]) -> str | None:
    """The page origin a browser says the request comes from: ``Origin``, else the origin of ``Referer``."""
    if b"origin" in headers:
        return headers[b"origin"].decode("latin-1")
    referer = headers.get(b"referer")
    if referer is None:
        return None
    parts = urlsplit(referer.decode("latin-1"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"


class RequestOriginGuard:
    """Refuse a foreign ``Host`` (400) and a cross-site state-changing request (403), before any route."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        host = headers.get(b"host", b"").decode("latin-1")
        error: InvalidRequest | Forbidden | None = None
        if host and not self.policy.allows_host(host):
            error = InvalidRequest(
                f"Host {host[:100]!r} is not a name of this server (DNS rebinding protection); "
                "add it to PIXEMBED_ALLOWED_HOSTS if clients reach the server by that name"
            )
        elif scope["method"] in STATE_CHANGING:
            origin = _origin_of(headers)
            if origin is not None and not self.policy.allows_origin(origin, host):
                error = Forbidden(
                    f"a {scope['method']} from a page at {origin[:100]!r} is refused as cross-site; "
                    "add that origin to PIXEMBED_CORS_ORIGINS to let its pages call this server"
                )
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Answer CORS (preflights included, on every route) for ``PIXEMBED_CORS_ORIGINS``; none by default.

    Keys travel in headers, never cookies, so credentials stay off: a "*" origin can read responses only
    with a key of its own.
    """
    origins = [origin.strip().rstrip("/") for origin in settings.cors_origins if origin.strip()]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
