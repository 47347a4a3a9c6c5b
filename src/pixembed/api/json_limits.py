"""Parse untrusted JSON text without letting its shape crash the server.

Python's ``json`` recurses once per nesting level, so ``"[" * 100000`` raises RecursionError (a 500, and a
dropped keep-alive connection), and an integer of more than 4300 digits raises ValueError. The nesting
depth is therefore measured before parsing, and both failures become ``InvalidRequest`` (400).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from pixembed.errors import InvalidRequest

# Deeper than any request pixembed accepts (metadata is held to far less in services/metadata.py).
MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``raw`` nest more than ``limit`` deep (strings skipped), in C-speed
    passes (a regex and numpy), so a large flat body costs little."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # nesting never exceeds the number of opening brackets
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    steps = np.frombuffer(brackets, dtype=np.uint8)
    opening = (steps == ord("[")) | (steps == ord("{"))
    levels = np.cumsum(np.where(opening, 1, -1))
    return bool(levels.size) and int(levels.max()) > limit


def parse_json(raw: bytes | str, what: str = "request body") -> Any:
    """``json.loads`` for untrusted text: ``InvalidRequest`` for bad JSON, deep nesting or huge numbers."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if nested_deeper_than(data, MAX_JSON_DEPTH):
        raise InvalidRequest(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # a second net; the depth check above should have caught it
        raise InvalidRequest(f"{what} is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        raise InvalidRequest(f"{what} holds a value that cannot be read: {exc}") from exc
