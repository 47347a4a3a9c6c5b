"""Logging: one JSON object per line (python-json-logger), each carrying the current request's id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# Set by the API's request middleware; context variables follow the request into worker threads
# (anyio.to_thread copies the context), so service-layer log lines carry the id too.
request_id_var: ContextVar[str | None] = ContextVar("pixembed_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def make_handler(style: Literal["json", "text"], stream: TextIO) -> logging.Handler:
    """A handler writing to ``stream``, one JSON object (or text line) per record, with the request id."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if style == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                # uvicorn adds the message again with ANSI colour codes for its own console formatter.
                reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            )
        )
    else:
        text = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        handler.setFormatter(logging.Formatter(text))
    return handler


def configure_logging(style: Literal["json", "text"] = "json", level: int = logging.INFO) -> None:
    """Send pixembed's and uvicorn's logs to stderr, as JSON lines or as plain text."""
    handler = make_handler(style, sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
