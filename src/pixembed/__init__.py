"""pixembed: self-hosted CLIP image embeddings, zero-shot comparison and visual search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pixembed.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import pixembed`` (the server, the CLI) does not pay for httpx and the client.
    if name in ("Client", "AsyncClient"):
        from pixembed import client

        return getattr(client, name)
    raise AttributeError(f"module 'pixembed' has no attribute {name!r}")
