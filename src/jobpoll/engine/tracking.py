"""One watched job: what each answer or failure does to it (an update to report,
the next lookup to schedule, an ending), following lookup.py's rules and
schedule.py's policy. A job always keeps its last known state; a failure changes
only its error."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobpoll.engine import schedule
from jobpoll.engine.lookup import (
    Failure,
    FollowupLimited,
    attempt,
    classify,
    settle,
    unknown_status_note,
)
from jobpoll.engine.updates import Kind, Stop, Update
from jobpoll.errors import JobpollError, RateLimitedError, UnavailableError
from jobpoll.model import BAD_ENDINGS, Job, State

if TYPE_CHECKING:
    from jobpoll.engine.batch import Batch
    from jobpoll.engine.schedule import Cadence
    from jobpoll.engine.watch import Route, WatchLoop
    from jobpoll.targets import Target


class Tracked:
    """One job's bookkeeping."""

    __slots__ = (
        "target", "ref", "id", "route", "cadence", "job", "error", "finished",
        "failures", "beat_at", "batch", "home", "rejoins", "warned_unknown",
    )

    def __init__(self, target: "Target", route: "Route", cadence: "Cadence", now: float):
        self.target = target
        self.ref = target.ref.ref
        self.id = target.ref.id
        self.route = route
        self.cadence = cadence
        self.job: Job | None = None
        self.error: JobpollError | None = None
        self.finished = False
        self.failures = 0
        self.beat_at = now
        self.batch: Batch | None = None  # the batch answering it now
        self.home: Batch | None = None  # the batch it belongs to, even while looked up alone
        self.rejoins = 0
        self.warned_unknown = False


class Tracker:
    """Looks jobs up one at a time and keeps each one's story."""

    def __init__(self, loop: "WatchLoop"):
        self.loop = loop

    async def lookup(self, t: Tracked) -> None:
        loop, route = self.loop, t.route
        try:
            found = await attempt(
                loop.http, route.endpoint, t.id, previous=t.target.previous,
                on_status=lambda answer: route.pacer.observe(answer.headers, loop.clock()),
            )
        except FollowupLimited as exc:
            # Reelbot's download link (30 calls an hour): only this job waits.
            wait = exc.retry_at - time.time()
            loop.push(loop.clock() + max(0.0, wait) + 0.1, t)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - classify names whatever it was
            self.failed(t, exc)
        else:
            if found.note:
                loop.emit(Update(Kind.WARNING, t.ref, t.job, text=found.note))
            self.answered(t, found.job, None)
        finally:
            loop.done_sending(route)

    def failed(self, t: Tracked, exc: BaseException) -> None:
        kind, error = classify(exc, t.ref)
        if kind is Failure.RATE_LIMITED:
            assert isinstance(error, RateLimitedError)
            self.rate_limited(t, error)
        elif kind is Failure.TRANSIENT:
            assert isinstance(error, UnavailableError)
            self._retry(t, error)
        else:
            self.answered(t, None, error)

    def answered(self, t: Tracked, job: Job | None, error: JobpollError | None) -> None:
        """A job or a final error from a single lookup, settled by lookup.py's rules
        (a forgotten job shows the history's ending)."""
        outcome = settle(t.ref, t.target.previous, job, error)
        for note in outcome.notes:  # an unknown status is warned of once a job, in observe
            self.loop.emit(Update(Kind.WARNING, t.ref, t.job, text=note))
        if outcome.error is not None:
            self.end(t, outcome.error)
        elif outcome.job is not None:
            self.observe(t, outcome.job, self.loop.clock())

    def observe(self, t: Tracked, job: Job, now: float, *, reschedule: bool = True) -> bool:
        """A fresh answer for a job: emit what changed, schedule the next lookup.
        Returns whether something changed."""
        loop = self.loop
        previous = t.job
        if previous is not None and job.state is previous.state and job.progress is not None \
                and previous.progress is not None and job.progress < previous.progress:
            # Progress never goes backwards within a state: a lagging replica or a
            # list answer older than the last single one is not news.
            job = job.with_(progress=previous.progress)
        if job.state is State.UNKNOWN and not t.warned_unknown:
            t.warned_unknown = True
            loop.emit(Update(Kind.WARNING, t.ref, job, text=unknown_status_note(job)))
        t.failures = 0
        t.error = None
        changed = previous is None or (job.state, job.progress, job.message) != (
            previous.state, previous.progress, previous.message)
        t.job = job
        if job.terminal:
            self.finish(t, Update(Kind.FINAL, t.ref, job))
            return True
        if changed:
            t.cadence.changed_at = t.beat_at = now
            loop.emit(Update(Kind.SEEN if previous is None else Kind.CHANGED, t.ref, job))
        schedule.note_created(t.cadence, job, now, time.time())
        moved = schedule.track_progress(t.cadence, previous, job, now)
        if reschedule and not loop.batches.rejoin(t, now):
            max_interval = loop.options.max_interval
            delay = schedule.next_delay(t.cadence, job, moved=moved, now=now, max_interval=max_interval, rng=loop.rng)
            loop.push(schedule.send_at(now, delay, max_interval, aimed=t.cadence.aimed, gather=loop.gather), t)
        return changed

    def _retry(self, t: Tracked, exc: UnavailableError) -> None:
        loop = self.loop
        t.failures += 1
        if t.failures > loop.options.retries:
            tries = "lookup" if t.failures == 1 else f"{t.failures} lookups in a row"
            self.end(t, UnavailableError(
                f"gave up after {tries} failed: {exc.message}", job=t.ref,
                hint=exc.hint or "the provider may be down; try again later"))
            return
        loop.emit(Update(Kind.RETRYING, t.ref, t.job, error=exc,
                         text=f"retry {t.failures}/{loop.options.retries}"))
        loop.push(loop.clock() + schedule.retry_delay(t.failures, loop.options.max_interval), t)

    def rate_limited(self, unit: "Tracked | Batch", exc: RateLimitedError) -> None:
        """429: every job of this provider and key waits until the time it gave;
        not a failure, unless it gave no usable time to come back."""
        if not exc.given and isinstance(unit, Tracked) and self._limited_too_often(unit, exc):
            return
        loop = self.loop
        route = unit.route
        until = route.pacer.pause(exc.retry_at, loop.clock())
        route.pacer.waiting.appendleft(unit)
        loop.wake_pacer(route, until)
        if until > route.announced_until + 0.5:
            route.announced_until = until
            if isinstance(unit, Tracked):
                ref, job = unit.ref, unit.job
            else:  # a batch: the provider's name stands for its jobs
                ref, job = route.endpoint.provider.name, None
            loop.emit(Update(Kind.RATE_LIMITED, ref, job, error=exc, until=exc.retry_at))

    def _limited_too_often(self, t: Tracked, exc: RateLimitedError) -> bool:
        """A 429 with no usable time to come back (Retry-After 0, past, unreadable)
        waits a floor and counts as a failed lookup: --retries of them in a row end
        the job. Returns True when that happened."""
        t.failures += 1
        if t.failures <= self.loop.options.retries:
            return False
        self.end(t, UnavailableError(
            f"gave up after {t.failures} rate-limited lookups with no usable time to come back: "
            f"{exc.message}", job=t.ref, hint="try again in a minute"))
        return True

    def end(self, t: Tracked, error: JobpollError) -> None:
        t.error = error
        self.finish(t, Update(Kind.ERROR, t.ref, t.job, error=error))

    def finish(self, t: Tracked, update: Update) -> None:
        if t.finished:
            return
        loop = self.loop
        t.finished = True
        loop.active -= 1
        loop.batches.leave(t)
        t.home = None
        loop.emit(update)
        bad = update.kind is Kind.ERROR or (update.job is not None and update.job.state in BAD_ENDINGS)
        if bad and loop.options.fail_fast:
            loop.stop(Stop.FAIL_FAST)

    def heartbeats(self, now: float) -> None:
        period = self.loop.options.heartbeat
        for t in self.loop.tracked:
            changed_at = t.cadence.changed_at
            if not t.finished and now - changed_at >= period and now - t.beat_at >= period:
                t.beat_at = now
                self.loop.emit(Update(Kind.HEARTBEAT, t.ref, t.job, quiet_for=now - changed_at))
