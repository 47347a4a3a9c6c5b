"""The ``pixembed`` command line: thin commands over the services; errors become messages and exit codes."""

from pixembed.cli import collections as _collections  # noqa: F401  (registers its commands)
from pixembed.cli import dedup as _dedup  # noqa: F401  (registers dedup and cluster)
from pixembed.cli import detect as _detect  # noqa: F401  (registers its command)
from pixembed.cli import keys as _keys  # noqa: F401  (registers its commands)
from pixembed.cli.app import app, main

__all__ = ["app", "main"]
