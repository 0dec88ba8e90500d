"""Rate limits: the fixed windows the providers count requests in, per key."""

from __future__ import annotations

import math
import threading
import time

from ._jobs import SimClock
from ._settings import Settings


class RateWindows:
    """Fixed windows per (bucket, key), sized by the ``*_budget`` settings.

    A window is [start on the simulator's clock, requests counted] and, for
    Reelbot, the wall-clock start its X-RateLimit-Reset is worked out from.
    """

    def __init__(self, lock: threading.RLock, clock: SimClock, settings: Settings) -> None:
        self._lock = lock
        self._clock = clock
        self._settings = settings
        self._windows: dict[tuple[str, str], list[float]] = {}

    def take(self, bucket: str, key: str) -> tuple[bool, int, float, int]:
        """Count one request in Reelbot's fixed window: (allowed, remaining, reset epoch, retry-after)."""
        n, period = self._settings[f"reelbot_{bucket}_budget"]
        now_m = self._clock.monotonic()
        with self._lock:
            w = self._windows.get((bucket, key))
            if w is None or now_m >= w[0] + period:
                w = [now_m, 0, time.time()]
                self._windows[(bucket, key)] = w
            reset = w[2] + period
            if w[1] >= n:
                return False, 0, reset, max(1, math.ceil(w[0] + period - now_m))
            w[1] += 1
            return True, int(n - w[1]), reset, 0

    def within_budget(self, provider: str, key: str) -> bool:
        """Count one request in a fixed window per key (Creatomate: 30 per 10 s)."""
        n, period = self._settings[f"{provider}_budget"]
        now = self._clock.monotonic()
        with self._lock:
            window = self._windows.get((provider, key))
            if window is None or now >= window[0] + period:
                window = self._windows[(provider, key)] = [now, 0.0]
            if window[1] >= n:
                return False
            window[1] += 1
            return True

    def backdate(self, seconds: float) -> None:
        """The clock moved `seconds` forward: wall-clock starts move as far back."""
        with self._lock:
            for window in self._windows.values():
                window[2:] = [wall - seconds for wall in window[2:]]

    def forget(self, bucket: str | None = None) -> None:
        """Drop the windows of one bucket (a budget changed), or all of them."""
        with self._lock:
            if bucket is None:
                self._windows.clear()
                return
            for k in [k for k in self._windows if k[0] == bucket]:
                del self._windows[k]
