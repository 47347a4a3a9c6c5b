"""Metadata filters as parameterised PostgreSQL conditions on a ``jsonb`` column.

The same semantics as ``Filter.matches`` (and the SQLite translation in ``sql.py``): a missing key equals
nothing, so ``ne``/``nin`` keep it; ``true`` never equals ``1``; numbers compare by value across int and float
(jsonb compares numerics as numerics, so ``3 = 3.0``); range operators hold for numbers only. Keys and values
always travel as query parameters; only fixed SQL text is composed here.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from pixembed.store.filters import Condition, Filter

_RANGE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def jsonb_where(where: Filter | None, column: str = "metadata") -> tuple[sql.Composable, list[Any]]:
    """A condition on ``column`` equivalent to ``where.matches`` (``TRUE`` for no filter), with its params."""
    if where is None or not where.conditions:
        return sql.SQL("TRUE"), []
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for condition in where.conditions:
        part, values = _condition_sql(condition, sql.Identifier(column))
        parts.append(part)
        params.extend(values)
    return sql.SQL(" AND ").join(parts), params


def _condition_sql(condition: Condition, column: sql.Identifier) -> tuple[sql.Composable, list[Any]]:
    op, key, value = condition.op, condition.key, condition.value
    field = sql.SQL("({} -> %s::text)").format(column)
    if op in ("eq", "ne"):
        # jsonb equality already keeps true != 1 and "3" != 3; IS [NOT] DISTINCT FROM treats a missing key
        # (SQL NULL) as unequal to every value, without a three-valued NULL leaking into NOT.
        symbol = sql.SQL("IS NOT DISTINCT FROM" if op == "eq" else "IS DISTINCT FROM")
        return sql.SQL("{} {} %s::jsonb").format(field, symbol), [key, Jsonb(value)]
    if op in ("in", "nin"):
        assert isinstance(value, tuple)
        test = sql.SQL("COALESCE({} = ANY(%s::jsonb[]), FALSE)").format(field)
        if op == "nin":
            test = sql.SQL("NOT {}").format(test)
        return test, [key, [Jsonb(v) for v in value]]
    # jsonb orders values of different types without error (strings sort below numbers), so the type test
    # is what keeps "9" or true out of a numeric range.
    return (
        sql.SQL("(jsonb_typeof({field}) = 'number' AND {field} {symbol} %s::jsonb)").format(
            field=field, symbol=sql.SQL(_RANGE[op])
        ),
        [key, key, Jsonb(value)],
    )
