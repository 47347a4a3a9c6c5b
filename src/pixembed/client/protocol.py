"""Client operations written once, without I/O: each yields ``Call``s and ``Sleep``s and returns a result.

``Client`` runs them with blocking httpx calls and ``time.sleep``; ``AsyncClient`` with awaited ones. This
is the sans-I/O pattern (h11, httpcore): one place defines every route's request and response, and the
sync and async clients cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar
from urllib.parse import quote

T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One HTTP request; the driver sends back the JSON body, the raw bytes, or None."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    reply: Literal["json", "bytes", "none"] = "json"


@dataclass(frozen=True)
class Sleep:
    """Wait before the next step (job polling)."""

    seconds: float


Step: TypeAlias = Call | Sleep
Operation: TypeAlias = Generator[Step, Any, T]


def segment(value: str) -> str:
    """A collection name or item id as one URL path segment ('/', '#' and '?' escaped)."""
    return quote(value, safe="")
