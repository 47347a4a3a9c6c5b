"""Bounds on the JSON metadata stored with an item, checked when it is added.

Metadata is returned by every read and search, so a value that cannot be written back out (nested
hundreds deep: serialisers recurse) would turn each later read into a 500; such metadata, and metadata
too large to return cheaply, is refused at ingest instead.
"""

from __future__ import annotations

import json
from typing import Any

from pixembed.config import Settings
from pixembed.errors import InvalidRequest


def metadata_depth(value: Any) -> int:
    """How deeply objects and lists nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        children = (
            current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def check_metadata(metadata: dict[str, Any], settings: Settings, where: str) -> None:
    """``InvalidRequest`` when ``metadata`` nests deeper or is larger than the settings allow."""
    depth = metadata_depth(metadata)
    if depth > settings.max_metadata_depth:
        raise InvalidRequest(
            f"{where}: metadata is nested {depth} levels deep; the limit is {settings.max_metadata_depth} "
            "(PIXEMBED_MAX_METADATA_DEPTH)"
        )
    try:
        size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{where}: metadata cannot be stored as JSON: {exc}") from exc
    if size > settings.max_metadata_bytes:
        raise InvalidRequest(
            f"{where}: metadata is {size:,} bytes as JSON; the limit is {settings.max_metadata_bytes:,} "
            "(PIXEMBED_MAX_METADATA_KB)"
        )
