"""The web page at ``/``: static files shipped in the package (``pixembed/web``), no build step."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(str(files("pixembed") / "web"))


def mount_web_page(app: FastAPI) -> None:
    """Serve ``index.html`` at ``/``, its script and styles under ``/web/``, its icon at ``/favicon.ico``."""

    async def index_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def favicon() -> FileResponse:
        return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml")

    app.add_api_route("/", index_page, methods=["GET"], include_in_schema=False)
    # Browsers ask for /favicon.ico on every page, the docs included; an SVG answers it.
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
