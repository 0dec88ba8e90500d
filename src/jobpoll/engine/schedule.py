"""When to look at a job (or a batch of jobs) next: the scheduling policy.

Pure functions of what was observed (a `Cadence`: the job's first interval, its
current one, when it last changed, its progress samples), the provider's traits,
the options and the time on a clock the caller passes in. No I/O, no sleeping, no
clock of its own: the watch loop (watch.py) asks, and tests ask with plain numbers.

Today's policy: each job starts at its first interval (-i, the configured one, or
the provider's advice), grows x1.5 with jitter while nothing changes, and goes
back to the first on a change. Where progress moves, the finish is estimated from
its rate and the next lookup goes near it, within the same bounds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobpoll.model import Job, State
from jobpoll.retry import backoff_delay

if TYPE_CHECKING:
    from jobpoll.config import Endpoint

GROWTH = 1.5
JITTER = 0.10
MIN_PROGRESS_SPAN = 0.2  # seconds between two progress samples before a rate is trusted
MAX_BACKOFF = 30.0  # seconds: the longest wait after failed lookups


@dataclass(frozen=True)
class Traits:
    """What the policy needs to know of a job's provider and endpoint."""

    interval: float  # the first interval: -i, else the configured one, else the provider's advice
    batched: bool = False  # looked up through the provider's list, many jobs a request


@dataclass
class Cadence:
    """What the policy remembers of one job, or one batch, between lookups."""

    traits: Traits
    interval: float  # the current interval
    started: float  # clock time it was first scheduled
    changed_at: float  # clock time of the last change seen (the caller records it)
    sample: tuple[float, float] | None = None  # (time, progress) when first seen running

    @classmethod
    def start(cls, traits: Traits, now: float) -> "Cadence":
        return cls(traits, interval=traits.interval, started=now, changed_at=now)

    @property
    def base(self) -> float:
        """The first interval, the one a change brings back."""
        return self.traits.interval


def traits_of(endpoint: "Endpoint", option: float | None, *, batched: bool = False) -> Traits:
    return Traits(interval=first_interval(option, endpoint), batched=batched)


def first_interval(option: float | None, endpoint: "Endpoint") -> float:
    """-i, else the configured interval, else the provider's advice."""
    if option is not None:
        return option
    if endpoint.interval is not None:
        return endpoint.interval
    return endpoint.provider.default_interval


def ceiling(cadence: Cadence, max_interval: float) -> float:
    """The longest interval: --max-interval, but a first interval over it stands."""
    return max(max_interval, cadence.base)


def track_progress(cadence: Cadence, previous: Job | None, job: Job, now: float) -> bool:
    """Record a running job's progress; True when it moved with this answer."""
    if job.state is not State.RUNNING or job.progress is None:
        cadence.sample = None
        return False
    if cadence.sample is None:
        cadence.sample = (now, job.progress)
        return False
    return previous is not None and previous.progress is not None and job.progress > previous.progress


def next_delay(
    cadence: Cadence,
    job: Job,
    *,
    changed: bool,
    moved: bool,
    now: float,
    max_interval: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to the next lookup of a job just answered (not finished): aimed at
    the estimated finish while progress moves, else the stepped interval."""
    interval = step_interval(cadence, changed, max_interval, rng)
    if moved and cadence.sample is not None and job.progress is not None:
        eta = eta_delay(cadence.sample, now, job.progress)
        if eta is not None:
            return eta_schedule(eta, cadence.base, ceiling(cadence, max_interval))
    return interval


def next_batch_delay(
    cadence: Cadence, *, changed: bool, now: float, max_interval: float, rng: random.Random | None = None
) -> float:
    """Seconds to a batch's next list cycle: its first interval after a change
    among its members, else grown."""
    return step_interval(cadence, changed, max_interval, rng)


def step_interval(cadence: Cadence, changed: bool, max_interval: float, rng: random.Random | None) -> float:
    """Back to the first interval after a change, else grown."""
    cadence.interval = cadence.base if changed else grow(cadence.interval, ceiling(cadence, max_interval), rng)
    return cadence.interval


def retry_delay(failures: int, max_interval: float) -> float:
    """Seconds before trying again after `failures` failed lookups in a row."""
    return backoff_delay(failures, cap=min(MAX_BACKOFF, max(1.0, max_interval)))


def grow(interval: float, ceiling: float, rng: random.Random | None = None) -> float:
    """The next interval while nothing changes: x1.5 +-10%, never over the ceiling.
    Jitter keeps jobs that started together from polling in lockstep."""
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return min(ceiling, interval * GROWTH * jitter)


def eta_delay(first: tuple[float, float], now: float, progress: float) -> float | None:
    """Seconds until progress reaches 100 at the average rate since `first`
    (time, progress), or None when there is no rate to go by."""
    t0, p0 = first
    span = now - t0
    if span < MIN_PROGRESS_SPAN or progress <= p0:
        return None
    rate = (progress - p0) / span
    return (100.0 - progress) / rate


def eta_schedule(eta: float, floor: float, ceiling: float) -> float:
    """The delay to the next lookup of a job expected to finish in `eta` seconds,
    within [floor, ceiling]. A finish beyond the ceiling is reached in equal hops:
    one long hop and a short last one would land the short one at the floor,
    well after the finish."""
    target = land_after(eta)
    hops = max(1, math.ceil(target / ceiling))
    return min(ceiling, max(floor, target / hops))


def land_after(eta: float) -> float:
    """Aim a little past the estimate: arriving just before the finish costs a
    whole extra lookup, arriving just after costs only that margin in lag."""
    return eta + 0.15 + 0.05 * eta
