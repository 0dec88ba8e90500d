"""When to look at a job (or a batch of jobs) next: the scheduling policy.

Pure functions of what was observed (a `Cadence`: the job's traits, its current
interval, its age, when it last changed, its progress samples), the options and the
time on a clock the caller passes in. No I/O, no sleeping, no clock of its own: the
watch loop (watch.py) asks, and tests ask with plain numbers.

The policy follows what a lookup costs (issue 11):
- A batch (jobs answered together by a list endpoint, up to 100 a request) keeps a
  steady cadence at the provider's interval (-i, the configured one, or the
  provider's advice) while anything among its jobs changes: slowing it down would
  save almost nothing and cost every job lag. Only a batch unchanged for
  BATCH_QUIET backs off (x1.5 with jitter, up to --max-interval); a change brings
  the cadence back.
- A job looked up alone (Pictory, Reelbot, a job no list returns) costs a request
  per look, so it is looked at when that is worth it:
  - while its progress moves, at the finish estimated from the progress rate (a
    little past it); when the estimate is too loose to hit (a short span of whole
    percents), once before the earliest likely finish first, which narrows it;
  - the rate is read from two samples RATE_SPAN apart (on the defaults): whole
    percents over a longer span read it better, and a job that ends sooner is
    caught by its latest possible finish instead (latest_finish: progress made
    since it was last seen waiting, or since its creation, cannot have been
    slower than that). Against bench/watch's Pictory jobs, two samples 6 s apart
    rather than 2 s cost 6% fewer looks, and their lag p95 went from 1.4 s to
    3.0-3.3 s (the list providers' ~4.7 s is the watch's);
  - otherwise at an interval that grows with its age: a fifth of it, from a fifth of
    the provider's interval (-i, when given, is the shortest) to --max-interval.
    A job that has run 10 s is looked at every 2 s, one that has run 20 min every
    minute.
- A batched job whose estimated finish comes before the next list cycle gets one
  lookup of its own aimed at it (for Muvi, whose list lacks the outputs, that is the
  lookup its ending needs anyway).
- In a watch of many jobs (GATHER_FROM_JOBS), a job's own lookups are sent on a
  grid of at most a second (half their wait, less for short ones; a quarter of a
  second for a look aimed at a finish, where lateness is lag), never early:
  lookups due close together go out in one turn of the event loop. Each turn has a
  cost of its own (a wake from epoll, caches gone cold since the last): a
  1,000-job watch spread one lookup to a turn used a third more CPU for the same
  requests, and one on a half-second grid a tenth more than on this one. A watch
  of few jobs has no company to wait for: its looks keep their own times.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobpoll.model import Job, State, parse_time
from jobpoll.retry import backoff_delay

if TYPE_CHECKING:
    from jobpoll.config import Endpoint

GROWTH = 1.5
JITTER = 0.10
MIN_PROGRESS_SPAN = 0.2  # seconds between two progress samples before a rate is trusted
MAX_BACKOFF = 30.0  # seconds: the longest wait after failed lookups
YOUNG_SHARE = 0.2  # a young job alone is looked at five times as often as the provider's interval
AGE_SHARE = 0.2  # without moving progress, a job alone waits a fifth of its age
SOONEST_AIM = 0.25  # seconds: the shortest hop to an estimated finish (without -i)
PROGRESS_STEP = 1.0  # percent: providers report progress in whole percents
AIM_SPREAD = 1.5  # seconds of doubt about a finish worth one more look before aiming at it
RATE_SPAN = 6.0  # seconds between a job's first two progress samples (on the defaults)
BATCH_QUIET = 60.0  # seconds without a change in a whole batch before its cadence backs off
COALESCE = 1.0  # seconds: the longest a job's own lookup is held back to go with others
COALESCE_SHARE = 0.5  # ... and at most this share of its wait
COALESCE_FINEST = 1 / 64  # seconds: a finer grid would gather nothing
COALESCE_AIMED = 0.25  # seconds: the grid of a look aimed at a finish, whose lateness is lag
GATHER_FROM_JOBS = 50  # jobs in a watch before its lookups wait for company (fewer have none)


@dataclass(frozen=True)
class Traits:
    """What the policy needs to know of a job's provider and endpoint."""

    interval: float  # the provider's interval: -i, else the configured one, else the provider's advice
    young: float = 0.0  # the shortest interval of a job alone (0: the provider's interval)
    soonest: float = SOONEST_AIM  # the shortest hop to an estimated finish
    rate_span: float = RATE_SPAN  # the wait from a job's first progress sample to its second
    batched: bool = False  # looked up through the provider's list, many jobs a request


@dataclass
class Cadence:
    """What the policy remembers of one job, or one batch, between lookups."""

    traits: Traits
    interval: float  # the current interval
    started: float  # clock time it was first scheduled
    changed_at: float  # clock time of the last change seen (the caller records it)
    born: float  # clock time the job's age counts from (its creation where known)
    sample: tuple[float, float] | None = None  # (time, progress) when first seen running
    waiting_at: float | None = None  # clock time it was last seen queued
    moved: bool = False  # whether the last answer moved its progress
    dated: bool = False  # whether `born` comes from the job's creation time
    aimed: bool = False  # whether the current interval is aimed at an estimated finish

    @classmethod
    def start(cls, traits: Traits, now: float) -> "Cadence":
        return cls(traits, interval=traits.interval, started=now, changed_at=now, born=now)

    @property
    def base(self) -> float:
        """The provider's interval: a batch's cadence."""
        return self.traits.interval

    @property
    def young(self) -> float:
        return self.traits.young or self.traits.interval


def traits_of(endpoint: "Endpoint", option: float | None, *, batched: bool = False) -> Traits:
    """-i, when given, is also the shortest interval, the shortest aim and the span
    of the first rate: the user asked for no more than that, and no less; the
    defaults look at young jobs more often."""
    interval = first_interval(option, endpoint)
    if option is not None:
        return Traits(interval=interval, young=option, soonest=option, rate_span=option, batched=batched)
    return Traits(interval=interval, young=interval * YOUNG_SHARE, batched=batched)


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


def note_created(cadence: Cadence, job: Job, now: float, wall: float) -> None:
    """Count the job's age from its creation (epoch `wall` is now) once it is known:
    a job watched long after it started is not young."""
    if cadence.dated or not job.created_at:
        return
    created = parse_time(job.created_at)
    if created is not None:
        cadence.born = now - max(0.0, wall - created.timestamp())
        cadence.dated = True


def track_progress(cadence: Cadence, previous: Job | None, job: Job, now: float) -> bool:
    """Record a running job's progress; True when it moved with this answer."""
    cadence.moved = False
    if job.state is State.QUEUED:
        cadence.waiting_at = now
    if job.state is not State.RUNNING or job.progress is None:
        cadence.sample = None
        return False
    if cadence.sample is None:
        cadence.sample = (now, job.progress)
        return False
    cadence.moved = previous is not None and previous.progress is not None and job.progress > previous.progress
    return cadence.moved


def next_delay(
    cadence: Cadence,
    job: Job,
    *,
    moved: bool,
    now: float,
    max_interval: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to the next lookup of a job looked up alone, just answered (not
    finished): aimed at the estimated finish while progress moves, else a share of
    its age."""
    top = max(max_interval, cadence.young)
    if moved and cadence.sample is not None and job.progress is not None:
        hop = aim(cadence.sample, now, job.progress, cadence.traits.soonest, top)
        if hop is not None:
            cadence.interval, cadence.aimed = hop, True
            return hop
    interval = age_interval(now - cadence.born, cadence.young, top, rng)
    if cadence.sample is not None and cadence.sample[0] == now and job.progress is not None:
        # The first sample: the second waits for a span that reads the rate well,
        # unless the job may end before that.
        interval = max(interval, cadence.traits.rate_span)
        latest = latest_finish(cadence, now, job.progress)
        if latest is not None:
            interval = max(cadence.traits.soonest, min(interval, land_after(latest)))
        interval = min(top, interval)
    cadence.interval, cadence.aimed = interval, False
    return interval


def send_at(now: float, delay: float, max_interval: float, *, aimed: bool = False,
            gather: bool = True) -> float:
    """The clock time to send a job's own lookup due `delay` seconds from `now`:
    rounded up to a grid of at most COALESCE seconds and COALESCE_SHARE of the
    wait, so lookups due close together leave in one turn of the event loop. The
    grids are powers of two: lookups with similar waits share one, and land on
    the same instant. Never earlier (an aimed look would come before the finish,
    and -i is the shortest wait), nor past --max-interval: such a lookup keeps
    its own time. A look `aimed` at an estimated finish goes on a finer grid:
    there, every moment late is detection lag (and finishes spread anyway).
    Without `gather` (a watch of fewer than GATHER_FROM_JOBS jobs, where a look
    would wait for company that is not there), every look keeps its own time."""
    due = now + delay
    if not gather:
        return due
    step = min(COALESCE_AIMED if aimed else COALESCE, COALESCE_SHARE * delay)
    if step < COALESCE_FINEST:
        return due
    step = 2.0 ** math.floor(math.log2(step))
    on_grid = math.ceil(due / step) * step
    return due if delay <= max_interval < on_grid - now else on_grid


def age_interval(age: float, young: float, top: float, rng: random.Random | None = None) -> float:
    """A fifth of the job's age, within [young, top]; up to 10% longer at random, so
    jobs that started together do not poll in lockstep."""
    jitter = (rng or random).uniform(1.0, 1.0 + JITTER)
    return min(top, max(young, AGE_SHARE * max(0.0, age)) * jitter)


def aim(sample: tuple[float, float], now: float, progress: float, soonest: float, top: float) -> float | None:
    """The hop to the next lookup of a job whose progress moved from `sample` (time,
    progress) to `progress` now, or None without a rate to go by. A rate read from
    a few whole percents can be off by one percent: when that leaves more than
    AIM_SPREAD seconds of doubt, the hop lands before the earliest likely finish,
    and the look there (over a longer span) aims the last hop."""
    eta = eta_delay(sample, now, progress)
    if eta is None:
        return None
    span, gained = now - sample[0], progress - sample[1]
    earliest = (100.0 - progress) * span / (gained + PROGRESS_STEP)
    if eta - earliest > AIM_SPREAD:
        return min(top, max(soonest, earliest))
    return eta_schedule(eta, soonest, top)


def latest_finish(cadence: Cadence, now: float, progress: float) -> float | None:
    """Seconds to the latest finish of a job first seen running at `progress` now:
    it started after it was last seen queued, and after its creation, so it has
    gone at least that fast (progress read as growing evenly from 0). None
    without such a moment, or without progress yet."""
    since = [t for t in (cadence.waiting_at, cadence.born if cadence.dated else None) if t is not None]
    if not since or progress <= 0.0:
        return None
    ran = now - max(since)
    return (100.0 - progress) * ran / progress if ran > 0 else None


def aim_alone(cadence: Cadence, job: Job, now: float, before: float, max_interval: float) -> float | None:
    """For a batched job just answered by its list: the hop to a lookup of its own
    when its estimated finish comes before the next list cycle (`before` seconds
    away), else None."""
    if not cadence.moved or cadence.sample is None or job.progress is None:
        return None
    hop = aim(cadence.sample, now, job.progress, cadence.traits.soonest, max(max_interval, cadence.young))
    return hop if hop is not None and hop < before else None


def next_batch_delay(
    cadence: Cadence, *, changed: bool, now: float, max_interval: float, rng: random.Random | None = None
) -> float:
    """Seconds to a batch's next list cycle: the provider's interval, steadily,
    unless the whole batch has been unchanged for BATCH_QUIET; then grown."""
    if changed:
        cadence.changed_at = now
    if now - cadence.changed_at < BATCH_QUIET:
        cadence.interval = cadence.base
    else:
        cadence.interval = grow(cadence.interval, ceiling(cadence, max_interval), rng)
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
