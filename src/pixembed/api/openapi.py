"""Put the JSON schemas of the bodies routes decode themselves (``api.inputs.Decoded``) into OpenAPI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI

from pixembed.api.inputs import REF, decoded_models


def document_models(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Add the JSON schema of every request body the routers decode to the app's OpenAPI components."""
    build = app.openapi
    models = decoded_models(routers)

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
