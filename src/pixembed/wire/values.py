"""Values whose Python form differs from their JSON form: vectors and images.

A vector is a JSON list of numbers and a float32 numpy array in Python; an image is base64 in JSON and bytes
in Python. The server hands its arrays and bytes to the models as they are and the client gets them back the
same way, so neither side converts by hand (``.tolist()``, ``np.asarray``, ``b64encode``). float32 values
written as JSON doubles read back exactly.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


def _as_float32(value: Any) -> npt.NDArray[np.float32]:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected a list of numbers: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"expected a flat list of numbers, got {array.ndim} dimensions")
    return array


def _as_list(array: npt.NDArray[np.float32]) -> list[float]:
    values: list[float] = array.tolist()
    return values


def _as_bytes(value: Any) -> bytes:
    """Bytes as they are (the server's); a string is base64 (the client reading JSON)."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected base64 text or bytes")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc


def _as_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _schema(
    validate: Callable[[Any], Any], serialize: Callable[[Any], Any], json_form: core_schema.CoreSchema
) -> core_schema.CoreSchema:
    return core_schema.no_info_plain_validator_function(
        validate,
        json_schema_input_schema=json_form,
        serialization=core_schema.plain_serializer_function_ser_schema(
            serialize, return_schema=json_form, when_used="json"
        ),
    )


class _Float32ArraySchema:
    """pydantic's hook for a type it does not know: any list of numbers in, a list of numbers out."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _: Any, __: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return _schema(_as_float32, _as_list, core_schema.list_schema(core_schema.float_schema()))


class _Base64Schema:
    """Bytes in Python, base64 text in JSON."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _: Any, __: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return _schema(_as_bytes, _as_base64, core_schema.str_schema())

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "contentEncoding": "base64"}


Float32Array = Annotated[npt.NDArray[np.float32], _Float32ArraySchema]
"""A 1-D float32 array: an embedding, or a row of similarities or probabilities."""
Base64Bytes = Annotated[bytes, _Base64Schema]
"""Bytes (an image), written as base64 text."""
