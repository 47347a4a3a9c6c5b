"""How pixembed runs under uvicorn: its HTTP/1.1 protocol with a deadline on request headers, and limits.

uvicorn's only read timeout is ``timeout_keep_alive``, the idle time between requests; any byte re-arms it,
so a client sending one header byte a second holds a connection (and its memory) for as long as it likes.
uvicorn lets the protocol class be swapped, and no option covers this, so ``header_deadline_protocol``
adds the missing timer to uvicorn's own h11 protocol: a request's line and headers must be complete within
``read_timeout_s`` of its first byte (or of the connection opening), else the connection is closed. The
body is guarded by ``BodyLimitMiddleware`` (pauses and a minimum rate).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pixembed.config import Settings

# uvicorn's defaults, stated so they are visibly part of the contract: 5 s idle between keep-alive
# requests, and 16 KiB for a request line plus headers (h11 answers 400 past it).
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024


def header_deadline_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take over ``timeout_s``."""

    class HeaderDeadlineProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a connection that never sends a byte is cut too

        def data_received(self, data: bytes) -> None:
            # IDLE: h11 is still waiting for a complete request line and headers.
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.info("closing a connection whose request headers took over %g s", timeout_s)
                self.transport.close()

    return HeaderDeadlineProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options every pixembed server runs with (``pixembed serve`` and the test servers)."""
    return {
        "http": header_deadline_protocol(settings.read_timeout_s),
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
