"""Which fault, if any, a request gets: a random one (``fault_rate``) or the job's own."""

from __future__ import annotations

import random
import threading
from typing import Any

from ._faults import REDIRECT_MARKER
from ._jobs import TRANSIENT_KINDS, SimJob
from ._settings import Settings


class FaultInjector:
    """Picks faults; _faults.FaultAnswers makes the answer of one."""

    def __init__(self, lock: threading.RLock, settings: Settings) -> None:
        self._lock = lock
        self._settings = settings
        self._rng = random.Random(settings.seed)

    def reseed(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def random_fault(self, main: bool) -> dict | None:
        """A transient fault for a share ``fault_rate`` of requests to the main origin."""
        rate = self._settings["fault_rate"]
        if not main or rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= rate:
                return None
            kind = self._rng.choice(TRANSIENT_KINDS)
        return {"kind": kind, "random": True, "delay": self._settings["random_slow_delay"],
                "seconds": 1}

    def job_fault(self, job: SimJob, endpoint: str, request: Any) -> dict | None:
        """The job's next due fault at `endpoint` ("status", "download"); a request a
        same-origin redirect fault sent back is let through."""
        if REDIRECT_MARKER in request.query:
            return None
        with self._lock:
            n = job.lookups.get(endpoint, 0)
            job.lookups[endpoint] = n + 1
            for f in job.faults:
                if f["left"] == 0 or n < f["after"] or f["on"] not in ("any", endpoint):
                    continue
                if f["left"] > 0:
                    f["left"] -= 1
                return f
        return None
