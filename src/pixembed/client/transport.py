"""What the sync and async clients share: headers, URL, and turning a response into a reply or an error."""

from __future__ import annotations

from typing import Any

import httpx

from pixembed import __version__
from pixembed.client.protocol import Call
from pixembed.errors import PixembedError, Unavailable
from pixembed.wire import error_from_body

DEFAULT_TIMEOUT_S = 60.0


def client_headers(api_key: str | None) -> dict[str, str]:
    """The headers every request carries: the key as a Bearer token, when there is one."""
    headers = {"User-Agent": f"pixembed-python/{__version__}", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def request_kwargs(call: Call) -> dict[str, Any]:
    """httpx arguments for a call."""
    kwargs: dict[str, Any] = {"params": call.params}
    if call.json is not None:
        kwargs["json"] = call.json
    return kwargs


def reply_of(call: Call, response: httpx.Response) -> Any:
    """The call's reply (JSON, bytes or None); an error status raised as pixembed's error type."""
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_from_body(body, response.status_code, response.headers.get("retry-after"))
    if call.reply == "bytes":
        return response.content
    if call.reply == "none":
        return None
    return response.json()


def unreachable(base_url: str, exc: httpx.TransportError) -> PixembedError:
    """A connection failure or timeout as an error that names the server."""
    return Unavailable(f"cannot reach pixembed at {base_url}: {type(exc).__name__}: {exc}")
