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
    conditions = []
    for key, spec in raw.items():
        if not isinstance(key, str) or not key or '"' in key or len(key) > 128:
            raise InvalidRequest("filter keys must be 1-128 characters without '\"'")
        if isinstance(spec, dict):
            if not spec:
                raise InvalidRequest(f"filter on {key!r} is an empty object; give an operator")
            for op, value in spec.items():
                conditions.append(_condition(key, op, value))
        else:
            conditions.append(_condition(key, "eq", spec))
    return Filter(tuple(conditions))


def _condition(key: str, op: str, value: Any) -> Condition:
    if op not in OPERATORS:
        raise InvalidRequest(f"unknown filter operator {op!r} on {key!r}; use one of {', '.join(OPERATORS)}")
    if op in ("in", "nin"):
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise InvalidRequest(
                f"filter {key!r} {op} needs a non-empty list of strings, numbers or booleans"
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
