"""Backoff with jitter, and bounds on the waits a provider asks for; shared by
one-shot lookups and the watch engine."""

from __future__ import annotations

import math

# A 429 whose time to come back is missing its point (0, negative, unreadable, in
# the past) waits this long, plus up to half of it as jitter, and counts as a retry.
RETRY_FLOOR = 1.0
# However far off a provider's time to come back (Retry-After: 1e12, inf), no wait
# is longer than this: a watch sleeps at most this long (--timeout still ends it).
MAX_RETRY_WAIT = 6 * 3600.0


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter for the n-th consecutive failure (1-based):
    spreads retries of many jobs so they do not hit a recovering provider together."""
    import random  # not at import time: most runs never retry

    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def bounded_retry_at(moment: float | None, now: float) -> tuple[float, bool]:
    """(epoch seconds to ask again, whether the provider's time was usable).
    None, NaN or a time not after `now` gives the floor with jitter (not usable);
    anything beyond MAX_RETRY_WAIT (infinity included) is capped."""
    if moment is None or math.isnan(moment) or moment <= now:
        import random

        return now + RETRY_FLOOR + random.uniform(0.0, RETRY_FLOOR / 2), False
    return min(moment, now + MAX_RETRY_WAIT), True
