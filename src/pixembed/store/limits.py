"""Rate limits and quotas as plain arithmetic: parse ``10/s`` or ``300/month``, decide, say when to retry.

Rates use GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp), so a key's whole
rate state is one number that a SQLite row can hold and update in the same transaction as its quota.
The ``limits`` package (slowapi's engine) implements the same ideas but only over memory, Redis, Memcached
or MongoDB; pixembed's counters must live in the key store's database (SQLite, or PostgreSQL shared by
replicas) to be exact across processes and survive restarts, so the few lines of arithmetic are written here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pixembed.errors import InvalidRequest

_UNIT_SECONDS = {"s": 1, "min": 60, "hour": 3600, "day": 86400, "month": 30 * 86400}
_UNIT_ALIASES = {
    "s": "s", "sec": "s", "second": "s", "seconds": "s",
    "m": "min", "min": "min", "minute": "min", "minutes": "min",
    "h": "hour", "hr": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "mo": "month", "month": "month", "months": "month",
}  # fmt: skip
# Epoch seconds carry ~0.2 µs of float noise; a request that far early is on time.
RATE_SLACK_S = 1e-6
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Limit:
    """``count`` requests per ``unit`` (s, min, hour, day or month)."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}/{self.unit}"

    @property
    def seconds(self) -> int:
        """The unit's length in seconds (a month counts as 30 days for rates)."""
        return _UNIT_SECONDS[self.unit]


def parse_limit(text: str) -> Limit:
    """``"300/month"`` -> ``Limit(300, "month")``; ``InvalidRequest`` for anything else."""
    match = _LIMIT.match(text.lower())
    unit = _UNIT_ALIASES.get(match.group(2)) if match else None
    if match is None or unit is None or int(match.group(1)) < 1:
        raise InvalidRequest(
            f"limit {text!r} is not COUNT/UNIT with COUNT >= 1 and UNIT one of s, min, hour, day, month "
            "(e.g. 10/s or 300/month)"
        )
    return Limit(int(match.group(1)), unit)


@dataclass(frozen=True)
class Decision:
    """Whether one request is admitted under one limit, and what the X-RateLimit-* headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: float


def rate_decision(limit: Limit, tat: float, now: float) -> tuple[Decision, float]:
    """GCRA: admit one request at ``now`` given the stored theoretical arrival time ``tat``.

    Returns the decision and the ``tat`` to store (unchanged when refused). A full bucket holds
    ``limit.count`` requests; it refills one request every ``seconds / count``. So ``10/s`` allows a
    burst of 10, then a steady 10 per second.
    """
    interval = limit.seconds / limit.count
    new_tat = max(tat, now) + interval
    allow_at = new_tat - limit.seconds
    if allow_at - now > RATE_SLACK_S:
        remaining_old = _rate_remaining(limit, max(tat, now) - now, interval)
        decision = Decision(False, limit.count, remaining_old, max(tat, now) - now, allow_at - now)
        return decision, tat
    return rate_admitted(limit, new_tat, now), new_tat


def rate_admitted(limit: Limit, new_tat: float, now: float) -> Decision:
    """The decision for a request admitted at ``now`` that moved the stored time to ``new_tat``."""
    remaining = _rate_remaining(limit, new_tat - now, limit.seconds / limit.count)
    return Decision(True, limit.count, remaining, new_tat - now, 0.0)


def _rate_remaining(limit: Limit, backlog_s: float, interval: float) -> int:
    # The admission slack keeps float noise (0.1 * 10 = 0.9999..., epoch seconds' ~0.2 µs) from costing a
    # whole request: a request admitted that early is counted as room, here too.
    return max(0, min(limit.count, math.floor((limit.seconds - backlog_s + RATE_SLACK_S) / interval + 1e-9)))


def quota_period(limit: Limit, now: float) -> tuple[str, float]:
    """The calendar window (UTC) that ``now`` falls in for a quota, and the seconds until it ends."""
    moment = datetime.fromtimestamp(now, UTC)
    if limit.unit == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        label = start.strftime("%Y-%m")
    else:
        step = limit.seconds
        start_ts = math.floor(now / step) * step
        start = datetime.fromtimestamp(start_ts, UTC)
        end = start + timedelta(seconds=step)
        label = f"{limit.unit}:{int(start_ts)}"
    return label, (end - moment).total_seconds()


def quota_decision(limit: Limit, used: int, reset_s: float) -> Decision:
    """Admit one more call when ``used`` (this period, before this call) is under the quota."""
    if used >= limit.count:
        return Decision(False, limit.count, 0, reset_s, reset_s)
    return Decision(True, limit.count, limit.count - used - 1, reset_s, 0.0)
