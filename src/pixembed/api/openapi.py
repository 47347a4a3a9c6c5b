"""OpenAPI additions for routes that read their body by hand (multipart or JSON on one path)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


def body_doc(json_model: type[BaseModel] | None, form_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``openapi_extra`` request body: a JSON schema by reference and/or multipart form fields."""
    content: dict[str, Any] = {}
    if form_fields:
        content["multipart/form-data"] = {"schema": {"type": "object", "properties": form_fields}}
    if json_model is not None:
        content["application/json"] = {"schema": {"$ref": REF.format(model=json_model.__name__)}}
    return {"requestBody": {"required": True, "content": content}}


def document_models(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Put the JSON schemas of hand-read request bodies into the app's OpenAPI components."""
    build = app.openapi

    # FastAPI's documented hook for editing the generated schema.
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                definition = model.model_json_schema(ref_template=REF)
                components.update(definition.pop("$defs", {}))
                components[model.__name__] = definition
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
