"""The HTTP layer: the only place that knows HTTP. ``create_app`` builds the FastAPI app."""

from pixembed.api.app import create_app

__all__ = ["create_app"]
