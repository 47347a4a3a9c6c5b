"""Metadata filters: a small JSON language shared by every store backend.

``{"colour": "red", "size": {"in": ["S", "M"]}, "price": {"gte": 10, "lt": 50}}`` keeps the items whose
metadata matches every key: a plain value is equality, an object holds operators (eq, ne, in, nin, gt,
gte, lt, lte). Parsing happens once, at the edge, so backends receive a checked ``Filter``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixembed.errors import InvalidRequest

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte")
# Bounds that keep a filter's SQL inside SQLite's limits (expression depth 1000, 32766 parameters): an
# ``in`` list becomes a chain of ORs and the keys a chain of ANDs, each one level deeper per term.
MAX_FILTER_KEYS = 64
MAX_IN_VALUES = 256
MAX_FILTER_VALUES = 1024
MAX_KEY_CHARS = 128
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """One test on one metadata key."""

    key: str
    op: str
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Filter:
    """All conditions must hold."""

    conditions: tuple[Condition, ...]

    def matches(self, metadata: dict[str, Any]) -> bool:
        """Whether one item's metadata passes every condition."""
        return all(_holds(c, metadata.get(c.key)) for c in self.conditions)


def parse_filter(raw: Any) -> Filter | None:
    """Check a JSON filter and turn it into a ``Filter``; ``None``/``{}`` mean no filter."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise InvalidRequest('filter must be an object such as {"colour": "red", "price": {"lt": 50}}')
    if len(raw) > MAX_FILTER_KEYS:
        raise InvalidRequest(f"filter has {len(raw)} keys; the limit is {MAX_FILTER_KEYS}")
    conditions = []
    for key, spec in raw.items():
        _check_key(key)
        if isinstance(spec, dict):
            if not spec:
                raise InvalidRequest(f"filter on {key!r} is an empty object; give an operator")
            for op, value in spec.items():
                conditions.append(_condition(key, op, value))
        else:
            conditions.append(_condition(key, "eq", spec))
    values = sum(len(c.value) if isinstance(c.value, tuple) else 1 for c in conditions)
    if values > MAX_FILTER_VALUES:
        raise InvalidRequest(f"filter compares {values} values in all; the limit is {MAX_FILTER_VALUES}")
    return Filter(tuple(conditions))


def _check_key(key: Any) -> None:
    # A JSON path cannot name a key with a quote, a backslash or a control character (NUL makes SQLite
    # fail, the others silently match nothing), so such keys are refused rather than never matched.
    if not isinstance(key, str):
        raise InvalidRequest("filter keys must be strings")
    if (
        not key
        or len(key) > MAX_KEY_CHARS
        or any(ch in key for ch in '"\\')
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in key)
    ):
        raise InvalidRequest(
            f"filter key {key[:40]!r} is not allowed: keys are 1-{MAX_KEY_CHARS} characters without "
            "quotes, backslashes or control characters"
        )


def _condition(key: str, op: str, value: Any) -> Condition:
    if op not in OPERATORS:
        raise InvalidRequest(f"unknown filter operator {op!r} on {key!r}; use one of {', '.join(OPERATORS)}")
    if op in ("in", "nin"):
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise InvalidRequest(
                f"filter {key!r} {op} needs a non-empty list of strings, numbers or booleans"
            )
        if len(value) > MAX_IN_VALUES:
            raise InvalidRequest(
                f"filter {key!r} {op} lists {len(value)} values; the limit is {MAX_IN_VALUES}"
            )
        return Condition(key, op, tuple(value))
    if not _is_scalar(value):
        raise InvalidRequest(f"filter {key!r} {op} needs a string, number or boolean")
    if op in ("gt", "gte", "lt", "lte") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidRequest(f"filter {key!r} {op} needs a number")
    return Condition(key, op, value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _same(a: Any, b: Any) -> bool:
    # JSON has no separate bool and int: keep True from equalling 1, as the engines do.
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _holds(condition: Condition, actual: Any) -> bool:
    op, value = condition.op, condition.value
    if op == "eq":
        return _same(actual, value)
    if op == "ne":
        return not _same(actual, value)
    if op == "in":
        assert isinstance(value, tuple)
        return any(_same(actual, v) for v in value)
    if op == "nin":
        assert isinstance(value, tuple)
        return not any(_same(actual, v) for v in value)
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    assert isinstance(value, int | float)
    return {
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }[op]
