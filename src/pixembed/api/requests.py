"""Validate a decoded request body against its pydantic model, with one 400 that names every problem."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pixembed.errors import InvalidRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_body(model: type[ModelT], data: Any, context: dict[str, Any] | None = None) -> ModelT:
    """Validate a body against ``model``; every problem is named in one 400 message.

    Validators may raise pixembed errors themselves (pydantic lets them through), for rules whose message
    says more than pydantic's; ``context`` reaches them as ``info.context``.
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()]
        raise InvalidRequest("invalid request body: " + "; ".join(problems)) from exc
