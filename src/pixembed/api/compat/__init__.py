"""Drop-in routes for hosted embedding APIs, each in that service's request, response and error shapes."""

from pixembed.api.compat import apiclaw, coreviz, msightflow, roboflow, sambastudio
from pixembed.api.compat.shapes import ErrorRenderer, ServicePrefix

ROUTERS = (coreviz.router, roboflow.router, apiclaw.router, sambastudio.router, msightflow.router)

# mSightFlow's routes are native ones (``/v1/...``), so its paths keep pixembed's native errors.
PREFIXES = (
    ServicePrefix("/api/ai", coreviz.render_error),
    ServicePrefix("/clip", roboflow.render_error),
    ServicePrefix("/openapi/v2", apiclaw.render_error),
    ServicePrefix("/api/predict", sambastudio.render_error),
)


def error_renderer_for(path: str) -> ErrorRenderer | None:
    """How the service owning ``path`` answers errors; None for a path of no compatibility service."""
    return next((service.render for service in PREFIXES if service.owns(path)), None)


__all__ = ["PREFIXES", "ROUTERS", "error_renderer_for", "msightflow"]
