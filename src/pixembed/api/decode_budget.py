"""Give every HTTP request its own decoded-bytes budget, drawn from the server's pool (imaging/budget.py)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pixembed.imaging.budget import DecodeBudget, DecodePool, budget_scope


class DecodeBudgetMiddleware:
    """Open a ``DecodeBudget`` for the request; whatever it still holds goes back when the response ends."""

    def __init__(self, app: ASGIApp, pool: DecodePool, per_request_bytes: int) -> None:
        self.app = app
        self.pool = pool
        self.per_request_bytes = per_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with budget_scope(DecodeBudget(self.per_request_bytes, self.pool)):
            await self.app(scope, receive, send)
