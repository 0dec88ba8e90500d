"""The watch engine: polls many jobs at once until each finishes; yields updates,
never prints.

Shape, and why:
- One scheduler over a heap of due times, not a task per job sleeping: 5,000 jobs
  cost 5,000 heap entries, and a task exists only while its request is in flight.
- Jobs are reached through a *route* per (provider, base URL, key): a pacer (the
  provider's rate budget and any 429 pause, pacing.py) and a cap on requests in
  flight, with FIFO queues in front of both so waiting jobs take fair turns.
- Each job keeps its own interval: the first one (-i, the configured one, or the
  provider's advice), growing x1.5 with jitter while nothing changes, back to the
  first on a change. Where progress moves, the finish is estimated from its rate
  and the next lookup goes near it (issue 7), within the same bounds.
- Jobs sharing a route whose provider has a `list_policy` (json2video, Muvi) are
  looked up together, 100 a page (issue 7); a job the list does not return falls
  back to single lookups, and where list items lack what an ending carries (Muvi's
  outputs) one single lookup finishes the job.
- A job always keeps its last known state; a failure changes only its error.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Callable, Iterable

from jobpoll.errors import (
    JobpollError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from jobpoll.exits import ExitCode
from jobpoll.lookup import forgotten_ending, reuse_known_output
from jobpoll.model import BAD_ENDINGS, Job, State, parse_time, utcnow
from jobpoll.pacing import Pacer
from jobpoll.retry import backoff_delay
from jobpoll.targets import Target

if TYPE_CHECKING:
    from jobpoll.config import Endpoint
    from jobpoll.http import AsyncHttp
    from jobpoll.providers.base import ListPolicy
    from jobpoll.refs import JobRef

GROWTH = 1.5
JITTER = 0.10
MAX_IN_FLIGHT = 32  # per route: enough to keep a provider busy, not enough to look like an attack
BATCH_PAGE = 100
BATCH_LOOKBACK = timedelta(days=1)  # list window start when no job's created_at is known yet
BATCH_SKEW = timedelta(minutes=10)  # list window end past our clock: the provider's may run ahead
BATCH_MAX_SPAN = timedelta(days=93)  # json2video refuses longer ranges
BATCH_MAX_PAGES = 200  # a runaway cursor must not become an endless loop
FOLLOWUP_MAX_WAIT = 60.0  # a rate-limited follow-up (Reelbot's download) waited out if this short
MIN_PROGRESS_SPAN = 0.2  # seconds between two progress samples before a rate is trusted


class Kind(str, Enum):
    SEEN = "seen"  # first answer for a job (not finished)
    CHANGED = "changed"  # state, progress or message changed
    FINAL = "final"  # reached a terminal state (possibly at first sight)
    ERROR = "error"  # ended without a terminal state: auth, not found, usage, abandoned
    RETRYING = "retrying"  # a lookup failed and will be tried again
    RATE_LIMITED = "rate_limited"  # the provider said 429: everything of its key waits
    HEARTBEAT = "heartbeat"  # unchanged for --heartbeat
    WARNING = "warning"  # worth a line on stderr, not an ending


NEW_STATE_KINDS = frozenset({Kind.SEEN, Kind.CHANGED, Kind.FINAL})


class Stop(str, Enum):
    FINISHED = "finished"
    DEADLINE = "deadline"
    FAIL_FAST = "fail_fast"
    INTERRUPTED = "interrupted"


@dataclass
class PollOptions:
    interval: float | None = None  # -i; None: the endpoint's configured, else the provider's
    max_interval: float = 60.0
    deadline: float | None = None  # monotonic (the command counts -t from its own start)
    retries: int = 5
    fail_fast: bool = False
    heartbeat: float = 60.0  # 0: off
    max_in_flight: int = MAX_IN_FLIGHT
    batch: bool = True


@dataclass
class Update:
    kind: Kind
    ref: str
    job: Job | None  # the last known state, whatever the kind
    error: JobpollError | None = None
    text: str | None = None
    until: float | None = None  # RATE_LIMITED: epoch seconds when requests resume
    quiet_for: float = 0.0  # HEARTBEAT: seconds without a change

    @property
    def new_state(self) -> Job | None:
        """The job, when this update brings a new state of it (first sight, a change,
        the ending): what stdout and the history record. Else None."""
        return self.job if self.kind in NEW_STATE_KINDS else None

    @property
    def provider(self) -> str:
        """The provider's name: `ref` is PROVIDER:ID, or the bare name for an update
        about a whole provider (a listing's 429, a list that kept failing)."""
        return self.ref.split(":", 1)[0]


@dataclass
class JobResult:
    ref: "JobRef"
    job: Job | None
    error: JobpollError | None
    finished: bool

    def exit_code(self, stop: Stop) -> ExitCode | None:
        """This job's part of the exit status (None: it says nothing)."""
        if self.error is not None:
            return ExitCode(self.error.exit_code)
        if self.finished and self.job is not None:
            return ExitCode.JOB_FAILED if self.job.state in BAD_ENDINGS else ExitCode.OK
        if stop is Stop.DEADLINE:
            return ExitCode.UNFINISHED
        if stop is Stop.INTERRUPTED:
            return ExitCode.INTERRUPTED
        return None  # left unfinished by --fail-fast: the job that failed speaks


def route_key(endpoint: "Endpoint") -> tuple[str, str, str | None]:
    return (endpoint.provider.name, endpoint.base_url, endpoint.key)


def first_interval(option: float | None, endpoint: "Endpoint") -> float:
    """-i, else the configured interval, else the provider's advice."""
    if option is not None:
        return option
    if endpoint.interval is not None:
        return endpoint.interval
    return endpoint.provider.default_interval


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


class _Route:
    """One provider, base URL and key: its pacer and its cap on requests in flight."""

    __slots__ = ("endpoint", "pacer", "in_flight", "queue", "announced_until")

    def __init__(self, endpoint: "Endpoint", now: float):
        self.endpoint = endpoint
        self.pacer = Pacer(endpoint.provider.budget, now)
        self.in_flight = 0
        self.queue: deque = deque()  # units waiting for a free slot
        self.announced_until = 0.0


class _Watch:
    """One job's bookkeeping."""

    __slots__ = (
        "target", "ref", "id", "route", "base", "interval", "job", "error", "finished",
        "failures", "changed_at", "beat_at", "sample", "batch", "home", "rejoins",
        "warned_unknown",
    )

    def __init__(self, target: Target, route: _Route, base: float, now: float):
        self.target = target
        self.ref = target.ref.ref
        self.id = target.ref.id
        self.route = route
        self.base = base
        self.interval = base
        self.job: Job | None = None
        self.error: JobpollError | None = None
        self.finished = False
        self.failures = 0
        self.changed_at = now
        self.beat_at = now
        self.sample: tuple[float, float] | None = None  # (time, progress) first seen running
        self.batch: _Batch | None = None  # the batch answering it now
        self.home: _Batch | None = None  # the batch it belongs to, even while looked up alone
        self.rejoins = 0
        self.warned_unknown = False


class _Batch:
    """Jobs of one route answered together by the provider's list endpoint."""

    __slots__ = ("route", "policy", "members", "base", "interval", "failures", "scheduled")

    def __init__(self, route: _Route, policy: ListPolicy, base: float):
        self.route = route
        self.policy = policy
        self.scheduled = True  # in the heap, a queue, or in flight
        self.members: dict[str, _Watch] = {}
        self.base = base
        self.interval = base
        self.failures = 0


class _Beat:
    """The heap entry for the periodic heartbeat scan."""


class Poller:
    """Watches `targets` until each is finished, or a stop. `run(on_update)` calls
    `on_update` for every Update, from the event loop, in order."""

    def __init__(
        self,
        targets: Iterable[Target],
        options: PollOptions,
        http: "AsyncHttp",
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.options = options
        self._http = http
        self._clock = clock
        self._rng = rng or random.Random()
        now = clock()
        self._routes: dict[tuple, _Route] = {}
        self._watches: list[_Watch] = []
        for target in targets:
            route = self._route(target.endpoint, now)
            base = first_interval(options.interval, target.endpoint)
            self._watches.append(_Watch(target, route, base, now))
        self._heap: list[tuple[float, int, object]] = []
        self._seq = itertools.count()
        self._out: deque[Update] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._active = 0
        self._wakeup: asyncio.Future | None = None
        self._closing = False
        self.stopped: Stop | None = None

    # ---- public ------------------------------------------------------------
    async def run(self, on_update: Callable[[Update], None]) -> Stop:
        """Poll until every job is finished or something stops the watch; returns why."""
        now = self._clock()
        self._start(now)
        try:
            while True:
                while self._out:
                    on_update(self._out.popleft())
                if self.stopped is not None:
                    break
                if self._active == 0:
                    self.stopped = Stop.FINISHED
                    break
                now = self._clock()
                deadline = self.options.deadline
                if deadline is not None and now >= deadline:
                    self.stopped = Stop.DEADLINE
                    break
                self._run_due(now)
                if self._out:
                    continue
                wake = self._heap[0][0] if self._heap else math.inf
                if deadline is not None:
                    wake = min(wake, deadline)
                if wake > now:
                    await self._sleep(wake - now if wake != math.inf else 3600.0)
        finally:
            await self._cancel_tasks()
        return self.stopped

    def stop(self, reason: Stop) -> None:
        """Stop at the next turn of the loop (signal handlers call this)."""
        if self.stopped is None:
            self.stopped = reason
        self._kick()

    def results(self) -> list[JobResult]:
        """Every job's outcome, in the order given."""
        return [JobResult(w.target.ref, w.job, w.error, w.finished) for w in self._watches]

    # ---- scheduling --------------------------------------------------------
    def _route(self, endpoint: "Endpoint", now: float) -> _Route:
        key = route_key(endpoint)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = _Route(endpoint, now)
        return route

    def _start(self, now: float) -> None:
        by_route: dict[_Route, list[_Watch]] = {}
        for w in self._watches:
            self._active += 1
            if self.options.batch and w.route.endpoint.provider.list_policy is not None:
                by_route.setdefault(w.route, []).append(w)
            else:
                self._push(now, w)
        for route, group in by_route.items():
            if len(group) < 2:  # one job: a single lookup costs the same and says more
                self._push(now, group[0])
                continue
            batch = _Batch(route, route.endpoint.provider.list_policy, min(w.base for w in group))
            for w in group:
                w.batch = w.home = batch
                batch.members[w.id] = w
            self._push(now, batch)
        if self.options.heartbeat > 0:
            self._push(now + self._beat_period(), _Beat())

    def _push(self, due: float, unit: object) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), unit))
        if self._wakeup is not None and self._heap[0][2] is unit:
            self._kick()

    def _run_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now and self.stopped is None:
            _, _, unit = heapq.heappop(heap)
            if isinstance(unit, _Route):
                self._release_paced(unit, now)
            elif isinstance(unit, _Beat):
                self._heartbeats(now)
                self._push(now + self._beat_period(), unit)
            else:
                self._dispatch(unit, now)

    def _dispatch(self, unit, now: float) -> None:
        """A due job or batch: through its route's pacer, then its in-flight cap."""
        route = unit.route
        pacer = route.pacer
        if pacer.waiting:  # others are already waiting their turn: queue behind them
            pacer.waiting.append(unit)
            return
        wait = pacer.take(now)
        if wait > 0:
            pacer.waiting.append(unit)
            self._wake_pacer(route, now + wait)
            return
        self._send(unit)

    def _wake_pacer(self, route: _Route, at: float) -> None:
        if not route.pacer.wake_scheduled:
            route.pacer.wake_scheduled = True
            self._push(at, route)

    def _release_paced(self, route: _Route, now: float) -> None:
        pacer = route.pacer
        pacer.wake_scheduled = False
        while pacer.waiting:
            wait = pacer.take(now)
            if wait > 0:
                self._wake_pacer(route, now + wait)
                return
            self._send(pacer.waiting.popleft())

    def _send(self, unit) -> None:
        route = unit.route
        if route.in_flight >= self.options.max_in_flight:
            route.queue.append(unit)
            return
        route.in_flight += 1
        work = self._batch_cycle(unit) if isinstance(unit, _Batch) else self._lookup(unit)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _done_sending(self, route: _Route) -> None:
        route.in_flight -= 1
        if route.queue and not self._closing:
            self._send(route.queue.popleft())

    def _beat_period(self) -> float:
        return min(5.0, max(0.25, self.options.heartbeat / 4))

    # ---- the event loop plumbing ---------------------------------------------
    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._wakeup = future
        handle = loop.call_later(seconds, _resolve, future)
        try:
            await future
        finally:
            handle.cancel()
            self._wakeup = None

    def _kick(self) -> None:
        if self._wakeup is not None:
            _resolve(self._wakeup)

    def _emit(self, update: Update) -> None:
        self._out.append(update)
        self._kick()

    async def _cancel_tasks(self) -> None:
        self._closing = True  # cancelled lookups must not start queued ones on their way out
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one job -------------------------------------------------------------
    async def _lookup(self, w: _Watch) -> None:
        route = w.route
        endpoint = route.endpoint
        provider = endpoint.provider
        try:
            answer = await self._http.get(endpoint, provider.status_request(w.id))
            route.pacer.observe(answer.headers, self._clock())
            moment = utcnow()
            job = provider.parse_status(w.id, answer, moment)
            job = reuse_known_output(job, w.target.previous, moment)
            follow = provider.followup_request(job)
            if follow is not None:
                try:
                    extra = await self._http.get(endpoint, follow)
                    job = provider.apply_followup(job, extra, utcnow())
                except RateLimitedError as exc:
                    if self._followup_limited(w, job, exc):
                        return
        except RateLimitedError as exc:
            self._rate_limited(w, exc)
        except UnavailableError as exc:
            self._failed(w, exc.for_job(w.ref))
        except NotFoundError as exc:
            if not self._forgotten(w, None, exc):
                self._end(w, exc.for_job(w.ref))
        except JobpollError as exc:
            self._end(w, exc.for_job(w.ref))
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a parser meeting something new: retried like a bad answer
            self._failed(w, UnavailableError(
                f"unexpected {type(exc).__name__} reading the answer: {exc}", job=w.ref))
        else:
            if not self._forgotten(w, job, None):
                self._observe(w, job, self._clock())
        finally:
            self._done_sending(route)

    def _forgotten(self, w: _Watch, job: Job | None, error: JobpollError | None) -> bool:
        """A job the provider has forgotten (404, Pictory's "cleaned") that the
        history knows as finished: its stored ending stands. Returns True if so."""
        note = forgotten_ending(w.target.previous, job, error)
        if note is None:
            return False
        self._emit(Update(Kind.WARNING, w.ref, w.job, text=f"{w.ref}: {note}"))
        self._observe(w, w.target.previous, self._clock())
        return True

    def _followup_limited(self, w: _Watch, job: Job, exc: RateLimitedError) -> bool:
        """Reelbot's download endpoint said 429 (30 calls an hour). A short wait is
        waited out (the job is looked up again then); a long one ends the job as
        done without its URL rather than holding the watch for an hour.
        Returns True when the job was rescheduled."""
        wait = exc.retry_at - time.time()
        if wait <= FOLLOWUP_MAX_WAIT:
            self._push(self._clock() + max(0.0, wait) + 0.1, w)
            return True
        self._emit(Update(Kind.WARNING, w.ref, w.job, text=(
            f"{w.ref}: done, but the download link is rate limited for another "
            f"{wait / 60:.0f} min; get it later with 'jobpoll status {w.ref}'")))
        return False

    def _observe(self, w: _Watch, job: Job, now: float, *, schedule: bool = True) -> bool:
        """A fresh answer for a job: emit what changed, schedule the next lookup.
        Returns whether something changed."""
        previous = w.job
        if previous is not None and job.state is previous.state and job.progress is not None \
                and previous.progress is not None and job.progress < previous.progress:
            # Progress never goes backwards within a state: a lagging replica or a
            # list answer older than the last single one is not news.
            job = job.with_(progress=previous.progress)
        if job.state is State.UNKNOWN and not w.warned_unknown:
            w.warned_unknown = True
            self._emit(Update(Kind.WARNING, w.ref, job, text=(
                f"{w.ref}: unknown status {job.status!r} from {job.provider}; "
                "treated as not finished")))
        w.failures = 0
        w.error = None
        changed = previous is None or (job.state, job.progress, job.message) != (
            previous.state, previous.progress, previous.message)
        w.job = job
        if job.terminal:
            self._finish(w, Update(Kind.FINAL, w.ref, job))
            return True
        if changed:
            w.changed_at = w.beat_at = now
            self._emit(Update(Kind.SEEN if previous is None else Kind.CHANGED, w.ref, job))
        moved = self._sample(w, job, now, previous)
        if schedule and not self._rejoin(w, now):
            self._push(now + self._next_delay(w, changed, moved, now), w)
        return changed

    def _sample(self, w: _Watch, job: Job, now: float, previous: Job | None) -> bool:
        """Track progress while running; True when it moved with this answer."""
        if job.state is not State.RUNNING or job.progress is None:
            w.sample = None
            return False
        if w.sample is None:
            w.sample = (now, job.progress)
            return False
        return previous is not None and previous.progress is not None \
            and job.progress > previous.progress

    def _next_delay(self, w: _Watch, changed: bool, moved: bool, now: float) -> float:
        interval = self._step_interval(w, changed)
        if moved and w.sample is not None and w.job is not None and w.job.progress is not None:
            eta = eta_delay(w.sample, now, w.job.progress)
            if eta is not None:
                return eta_schedule(eta, w.base, self._ceiling(w))
        return interval

    def _ceiling(self, unit: _Watch | _Batch) -> float:
        return max(self.options.max_interval, unit.base)  # a first interval over --max-interval stands

    def _step_interval(self, unit: _Watch | _Batch, changed: bool) -> float:
        """A job's or batch's next interval: back to its first after a change, else grown."""
        unit.interval = unit.base if changed else grow(unit.interval, self._ceiling(unit), self._rng)
        return unit.interval

    def _failed(self, w: _Watch, exc: UnavailableError) -> None:
        w.failures += 1
        if w.failures > self.options.retries:
            tries = "lookup" if w.failures == 1 else f"{w.failures} lookups in a row"
            self._end(w, UnavailableError(
                f"gave up after {tries} failed: {exc.message}", job=w.ref,
                hint="the provider may be down; try again later"))
            return
        self._emit(Update(Kind.RETRYING, w.ref, w.job, error=exc,
                          text=f"retry {w.failures}/{self.options.retries}"))
        self._push(self._clock() + self._backoff(w.failures), w)

    def _backoff(self, failures: int) -> float:
        return backoff_delay(failures, cap=min(30.0, max(1.0, self.options.max_interval)))

    def _rate_limited(self, unit, exc: RateLimitedError) -> None:
        """429: every job of this provider and key waits until the time it gave;
        not a failure."""
        route = unit.route
        now = self._clock()
        until = route.pacer.pause(exc.retry_at, now)
        route.pacer.waiting.appendleft(unit)
        self._wake_pacer(route, until)
        if until > route.announced_until + 0.5:
            route.announced_until = until
            if isinstance(unit, _Watch):
                ref, job = unit.ref, unit.job
            else:  # a batch: the provider's name stands for its jobs
                ref, job = route.endpoint.provider.name, None
            self._emit(Update(Kind.RATE_LIMITED, ref, job, error=exc, until=exc.retry_at))

    def _end(self, w: _Watch, error: JobpollError) -> None:
        w.error = error
        self._finish(w, Update(Kind.ERROR, w.ref, w.job, error=error))

    def _finish(self, w: _Watch, update: Update) -> None:
        if w.finished:
            return
        w.finished = True
        self._active -= 1
        self._leave_batch(w)
        w.home = None
        self._emit(update)
        bad = update.kind is Kind.ERROR or (update.job is not None and update.job.state in BAD_ENDINGS)
        if bad and self.options.fail_fast:
            self.stop(Stop.FAIL_FAST)

    def _heartbeats(self, now: float) -> None:
        period = self.options.heartbeat
        for w in self._watches:
            if not w.finished and now - w.changed_at >= period and now - w.beat_at >= period:
                w.beat_at = now
                self._emit(Update(Kind.HEARTBEAT, w.ref, w.job, quiet_for=now - w.changed_at))

    # ---- batches: many jobs, one list request per 100 ---------------------------
    async def _batch_cycle(self, batch: _Batch) -> None:
        route = batch.route
        provider = route.endpoint.provider
        members = dict(batch.members)
        try:
            found = await self._list_members(batch, members)
        except RateLimitedError as exc:
            self._rate_limited(batch, exc)
            return
        except UnavailableError as exc:
            batch.failures += 1
            if batch.failures > self.options.retries:
                self._disband(batch, f"{provider.name}'s job list kept failing ({exc.message})")
            else:
                self._push(self._clock() + self._backoff(batch.failures), batch)
            return
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception:  # noqa: BLE001 - whatever it was, single lookups will say it properly
            self._disband(batch, None)
            return
        finally:
            self._done_sending(route)
        batch.failures = 0
        now = self._clock()
        changed = False
        for job_id, w in members.items():
            if w.finished or w.batch is not batch:
                continue
            job = found.get(job_id)
            if job is None:
                # Not in the window, or not returned: this one is looked up alone.
                self._detach(w, now)
            elif job.terminal and not batch.policy.complete:
                # The list says it ended but lacks what an ending carries (Muvi's
                # outputs and error details): one single lookup finishes it.
                self._detach(w, now)
                changed = True
            else:
                changed |= self._observe(w, job, now, schedule=False)
        self._reschedule(batch, changed, now)

    async def _list_members(self, batch: _Batch, members: dict[str, _Watch]) -> dict[str, Job]:
        """Page through the provider's list until every member is found, or the list
        can hold none of the missing ones any more."""
        endpoint = batch.route.endpoint
        provider = endpoint.provider
        created = [_created(w) for w in members.values()]
        known = [c for c in created if c is not None]
        oldest = min(known) if known and len(known) == len(created) else None  # None: not all known yet
        since = until = None
        if batch.policy.dated:
            since, until = _list_window(oldest, known)
        if batch.policy.dated or oldest is not None:
            max_pages = BATCH_MAX_PAGES
        else:
            # No date filter and some creation times unknown (the first cycle): as
            # many pages as the members could fill, and a little slack; whoever is
            # not found by then is looked up alone once, and comes back.
            max_pages = math.ceil(len(members) / BATCH_PAGE) + 2
        found: dict[str, Job] = {}
        for state in batch.policy.active or (None,):
            cursor: str | None = None
            for _ in range(max_pages):
                request = provider.list_request(
                    since=since, until=until, state=state, limit=BATCH_PAGE, cursor=cursor)
                answer = await self._http.get(endpoint, request)
                batch.route.pacer.observe(answer.headers, self._clock())
                page = provider.parse_list(answer, utcnow())
                for job in page.jobs:
                    if job.id in members:
                        found[job.id] = job  # a later query is the fresher answer
                cursor = page.cursor
                if not cursor or len(found) == len(members):
                    break
                if oldest is not None and not batch.policy.dated and _older_than(page.jobs, oldest):
                    break  # newest first: the rest of the list was created before any member
            if len(found) == len(members):
                break
        return found

    def _reschedule(self, batch: _Batch, changed: bool, now: float) -> None:
        if not batch.members:
            batch.scheduled = False
            return
        self._push(now + self._step_interval(batch, changed), batch)

    def _detach(self, w: _Watch, now: float) -> None:
        """Out of its batch, and looked up alone now."""
        self._leave_batch(w)
        self._push(now, w)

    def _leave_batch(self, w: _Watch) -> None:
        if w.batch is not None:
            w.batch.members.pop(w.id, None)
            w.batch = None

    def _rejoin(self, w: _Watch, now: float) -> bool:
        """A job the list missed once comes back to its batch when its creation time
        is known (it narrows the list's window). Once only: a job the list keeps
        missing (a foreign ID) stays with single lookups."""
        home = w.home
        if home is None or w.batch is not None or w.rejoins >= 1 or _created(w) is None:
            return False
        w.rejoins += 1
        w.batch = home
        home.members[w.id] = w
        if not home.scheduled:
            home.scheduled = True
            self._push(now + home.base, home)
        return True

    def _disband(self, batch: _Batch, reason: str | None) -> None:
        now = self._clock()
        batch.scheduled = False
        for w in list(batch.members.values()):
            w.home = None
            self._detach(w, now)
        if reason:
            self._emit(Update(Kind.WARNING, batch.route.endpoint.provider.name, None,
                              text=f"{reason}; looking jobs up one by one"))


def _list_window(oldest: datetime | None, known: list[datetime]) -> tuple[datetime, datetime]:
    """A dated list's [since, until]: from the oldest member's created_at to now, so
    every member was created inside it. While some member's created_at is not known
    yet (`oldest` None), it reaches back at least the default lookback."""
    wall = utcnow()
    until = wall + BATCH_SKEW
    start = oldest if oldest is not None else min(known + [wall - BATCH_LOOKBACK])
    return max(start - timedelta(seconds=1), until - BATCH_MAX_SPAN), until


def _older_than(jobs: list[Job], moment) -> bool:
    """Whether the last item of a newest-first page was created before `moment`
    (with a margin: Muvi gives whole seconds)."""
    if not jobs:
        return False
    created = parse_time(jobs[-1].created_at)
    return created is not None and created < moment - timedelta(seconds=2)


def _created(w: _Watch):
    for job in (w.job, w.target.previous):
        moment = parse_time(job.created_at) if job is not None else None
        if moment is not None:
            return moment
    return None


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
