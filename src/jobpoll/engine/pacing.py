"""Rate budgets: when the next request to a provider (and key) may go.

A provider that publishes a budget (Reelbot: 60 status requests a minute per key)
gets a token bucket, so the watch schedule stretches to fit the budget instead of
collecting 429s. Every provider gets a pause: after a 429 nothing is sent to that
provider and key before the time it named.

Pure bookkeeping on a monotonic clock passed in by the caller: no sleeping, no I/O,
so it is testable with plain numbers.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Mapping

from jobpoll.model import parse_time

if TYPE_CHECKING:
    from jobpoll.providers.base import RateBudget

# Seconds added to a provider's reset time: its clock and ours are read at slightly
# different moments, and a request a hair early is a 429.
RESET_MARGIN = 0.1
# The burst a bucket allows, as a share of the budget (Reelbot: 10 of 60).
BURST_SHARE = 6
EPSILON = 1e-9


class TokenBucket:
    """`capacity` requests at once, refilled at `rate` per second.

    capacity + rate * window == budget: whatever the server's window (fixed or
    sliding), no span of `per_seconds` ever sees more than the budget."""

    def __init__(self, capacity: float, rate: float, now: float):
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.tokens = float(capacity)
        self._updated = now

    @classmethod
    def for_budget(cls, budget: "RateBudget", now: float) -> "TokenBucket":
        capacity = max(1, budget.requests // BURST_SHARE)
        rate = max(budget.requests - capacity, 1) / budget.per_seconds
        return cls(capacity, rate, now)

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
            self._updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 when one is there now)."""
        self._refill(now)
        if self.tokens >= 1.0 - EPSILON:  # float dust must not become a wait of 1e-16 s
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> float:
        """Take a token if there is one (returns 0), else the seconds to wait."""
        delay = self.wait(now)
        if delay == 0.0:
            self.tokens -= 1.0
        return delay

    def limit(self, remaining: float, now: float) -> None:
        """The server says only `remaining` requests are left: never believe in more.
        (Only ever lowers the count: an older answer arriving late, or another
        process using the same key, must not buy us requests we do not have.)"""
        self._refill(now)
        self.tokens = min(self.tokens, float(remaining))


class Pacer:
    """One provider and key: a token bucket where there is a budget, a pause after a
    429 or an exhausted budget, and the FIFO of jobs waiting for their turn (so
    waiting jobs take turns fairly instead of all waking at once)."""

    def __init__(self, budget: "RateBudget | None", now: float):
        self.bucket = TokenBucket.for_budget(budget, now) if budget else None
        self.paused_until = 0.0  # monotonic
        self.waiting: deque[Any] = deque()
        self.wake_scheduled = False

    def take(self, now: float) -> float:
        """0 and a request may go now (its token spent), or the seconds to wait."""
        if now < self.paused_until:
            return self.paused_until - now
        return self.bucket.take(now) if self.bucket else 0.0

    def pause(self, retry_at_wall: float, now: float, wall: float | None = None) -> float:
        """Nothing goes before `retry_at_wall` (epoch seconds). Returns the monotonic
        time the pause ends."""
        wall = time.time() if wall is None else wall
        wait = retry_at_wall - wall
        if wait > 0:
            self.paused_until = max(self.paused_until, now + wait + RESET_MARGIN)
        if self.bucket:
            # The window the 429 belongs to is spent; start again gently after it.
            self.bucket.limit(0, now)
        return self.paused_until

    def observe(self, headers: Mapping[str, str], now: float, wall: float | None = None) -> None:
        """Correct the budget from X-RateLimit-Remaining / X-RateLimit-Reset (an ISO
        timestamp at Reelbot; epoch seconds or a delta elsewhere)."""
        remaining = _number(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return
        if self.bucket:
            self.bucket.limit(remaining, now)
        if remaining <= 0:
            reset = reset_time(headers.get("x-ratelimit-reset"), wall)
            if reset is not None:
                self.pause(reset, now, wall)


def reset_time(value: str | None, wall: float | None = None) -> float | None:
    """X-RateLimit-Reset as epoch seconds: an ISO timestamp (Reelbot), epoch
    seconds, or seconds from now (both seen elsewhere). None when unreadable (NaN
    included); never further off than MAX_RETRY_WAIT (infinity included)."""
    from jobpoll.retry import MAX_RETRY_WAIT

    if not value:
        return None
    wall = time.time() if wall is None else wall
    try:
        moment = parse_time(value)
    except (ValueError, OverflowError):
        moment = None
    if moment is not None:
        return min(moment.timestamp(), wall + MAX_RETRY_WAIT)
    number = _number(value)
    if number is None or math.isnan(number) or number == -math.inf:
        return None
    return min(number if number > 1_000_000_000 else wall + number, wall + MAX_RETRY_WAIT)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except (ValueError, AttributeError):
        return None
