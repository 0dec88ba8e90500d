"""The simulator's store of jobs: every provider's jobs by ID and in creation order."""

from __future__ import annotations

import bisect
import random
import threading
from typing import Iterable

from ._files import normalize_file_faults
from ._jobs import PROVIDERS, SimClock, SimJob, make_job


def _unlist(order: list[tuple[float, str]], job: SimJob) -> None:
    """Take the job out of its provider's creation order (sorted (created, id))."""
    i = bisect.bisect_left(order, (job.created, job.id))
    if i < len(order) and order[i] == (job.created, job.id):
        del order[i]


class JobTable:
    """Jobs per provider: ``jobs[provider][id]``, and ``order[provider]``, the
    sorted (created, id) pairs list endpoints page through (under ``lock``)."""

    def __init__(self, lock: threading.RLock, clock: SimClock, seed: int | None) -> None:
        self.lock = lock
        self.clock = clock
        self._id_rng = random.Random(seed) if seed is not None else random.Random()
        self._seq = 0
        self.jobs: dict[str, dict[str, SimJob]] = {p: {} for p in PROVIDERS}
        self.order: dict[str, list[tuple[float, str]]] = {p: [] for p in PROVIDERS}

    def add(self, specs: Iterable[dict], speed: float) -> list[str]:
        """Create (or replace) a job for each spec, at `speed` unless the spec has its
        own; all or nothing: one bad spec (ValueError) adds none."""
        with self.lock:
            made = []
            for spec in specs:
                if not isinstance(spec, dict) or "provider" not in spec:
                    raise ValueError(f"a job spec is a dict with a 'provider': {spec!r}")
                spec = dict(spec)
                provider = spec.pop("provider")
                job_id = spec.pop("id", None)
                job_id = spec.pop("job_id", None) if job_id is None else job_id
                self._seq += 1
                job_speed = spec.pop("speed", speed)
                file_faults = normalize_file_faults(spec.pop("file_faults", None))
                job = make_job(provider, job_id, rng=self._id_rng, speed=job_speed,
                               seq=self._seq, clock=self.clock, **spec)
                if file_faults:
                    job.variant["file_faults"] = file_faults
                made.append(job)
            for job in made:
                jobs, order = self.jobs[job.provider], self.order[job.provider]
                old = jobs.get(job.id)
                if old is not None:
                    _unlist(order, old)
                jobs[job.id] = job
                bisect.insort(order, (job.created, job.id))
            return [job.id for job in made]

    def remove(self, provider: str, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(provider, {}).pop(job_id, None)
            if job is None:
                return False
            _unlist(self.order[provider], job)
            return True

    def get(self, provider: str, job_id: str | None) -> SimJob | None:
        return self.jobs.get(provider, {}).get(job_id)  # type: ignore[arg-type]

    def lookup(self, provider: str, job_id: str, key: str | None) -> SimJob | None:
        """The job, if it exists and `key` (None: no key check) may see it."""
        job = self.jobs[provider].get(job_id)
        if job is None or (key is not None and not job.visible_to(key)):
            return None
        return job

    def backdate(self, seconds: float) -> None:
        """Move every job's creation `seconds` back (the clock moved as far forward)."""
        with self.lock:
            for provider in PROVIDERS:
                jobs = self.jobs[provider]
                for job in jobs.values():
                    job.created = round(job.created - seconds, 3)
                self.order[provider] = sorted((job.created, job.id) for job in jobs.values())

    def refs(self, provider: str | None = None) -> list[str]:
        """"provider:id" of every job (oldest first)."""
        with self.lock:
            return [f"{p}:{i}" for p in PROVIDERS if provider in (None, p)
                    for _, i in self.order[p]]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {p: len(self.jobs[p]) for p in PROVIDERS}

    def clear(self) -> None:
        with self.lock:
            for p in PROVIDERS:
                self.jobs[p].clear()
                self.order[p].clear()
