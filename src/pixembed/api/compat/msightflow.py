"""mSightFlow: its ``/v1/embed`` and ``/v1/embed/search`` are pixembed's native routes, which already take
its multipart requests and answer the ``vector`` and ``results`` it reads, and take its key as
``Authorization: Bearer`` (``pixembed.api.auth.require_scope``). What it adds is its name in the API docs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

SERVICE = "mSightFlow"
PATHS = ("/v1/embed", "/v1/embed/search")


def tag_routes(app: FastAPI) -> None:
    """List the shared native routes under the mSightFlow tag too, so its users find them in /docs."""
    build = app.openapi

    # FastAPI's documented hook for editing the generated schema; the routes themselves stay native.
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in PATHS:
                for operation in schema["paths"].get(path, {}).values():
                    operation.setdefault("tags", []).append(SERVICE)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
