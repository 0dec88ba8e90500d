"""Batching: jobs of one route answered together by the provider's list endpoint.

Jobs sharing a route whose provider has a `list_policy` (json2video, Muvi) are
looked up together, 100 a page (issue 7); a job the list does not return falls
back to single lookups, and where list items lack what an ending carries (Muvi's
outputs) one single lookup finishes the job.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable

from jobpoll.engine import schedule
from jobpoll.engine.schedule import Cadence, Traits
from jobpoll.engine.updates import Kind, Update
from jobpoll.errors import RateLimitedError, UnavailableError
from jobpoll.model import Job, parse_time, utcnow

if TYPE_CHECKING:
    from jobpoll.engine.tracking import Tracked
    from jobpoll.engine.watch import Route, WatchLoop
    from jobpoll.providers.base import ListPolicy

BATCH_PAGE = 100
BATCH_LOOKBACK = timedelta(days=1)  # list window start when no job's created_at is known yet
BATCH_SKEW = timedelta(minutes=10)  # list window end past our clock: the provider's may run ahead
BATCH_MAX_PAGES = 200  # a runaway cursor must not become an endless loop


class Batch:
    """Jobs of one route answered together by the provider's list endpoint."""

    __slots__ = ("route", "policy", "members", "cadence", "failures", "scheduled")

    def __init__(self, route: "Route", policy: "ListPolicy", cadence: Cadence):
        self.route = route
        self.policy = policy
        self.scheduled = True  # in the heap, a queue, or in flight
        self.members: dict[str, Tracked] = {}
        self.cadence = cadence
        self.failures = 0


class _Taken:
    """What one list cycle's pages did to its members."""

    __slots__ = ("changed", "observed")

    def __init__(self) -> None:
        self.changed = False
        self.observed: list[Tracked] = []


class Batcher:
    """Forms the batches, runs their list cycles, and moves jobs in and out."""

    def __init__(self, loop: "WatchLoop"):
        self.loop = loop

    def form(self, tracked: Iterable["Tracked"], now: float) -> list[object]:
        """What to send first: single jobs, then one batch per route with two or
        more jobs of a provider that can list."""
        first: list[object] = []
        by_route: dict[Route, list[Tracked]] = {}
        for t in tracked:
            if self.loop.options.batch and t.route.endpoint.provider.list_policy is not None:
                by_route.setdefault(t.route, []).append(t)
            else:
                first.append(t)
        for route, group in by_route.items():
            if len(group) < 2:  # one job: a single lookup costs the same and says more
                first.append(group[0])
                continue
            base = min(t.cadence.base for t in group)
            batch = Batch(route, route.endpoint.provider.list_policy,
                          Cadence.start(Traits(interval=base, batched=True), now))
            for t in group:
                t.batch = t.home = batch
                batch.members[t.id] = t
            first.append(batch)
        return first

    async def cycle(self, batch: Batch) -> None:
        loop = self.loop
        started = loop.clock()  # the cadence counts from here: paging 10,000 jobs takes a while
        route = batch.route
        provider = route.endpoint.provider
        members = dict(batch.members)
        pages = _Taken()

        def take(jobs: list[Job]) -> None:
            # Each page's jobs as it arrives: with thousands of jobs a cycle is many
            # pages, and a job that ended should not wait for the last of them.
            now = loop.clock()
            for job in jobs:
                t = members.get(job.id)
                if t is None or t.finished or t.batch is not batch:
                    continue
                if job.terminal and not batch.policy.complete:
                    # The list says it ended but lacks what an ending carries (Muvi's
                    # outputs and error details): one single lookup finishes it.
                    self._detach(t, now)
                    pages.changed = True
                else:
                    pages.changed |= loop.jobs.observe(t, job, now, reschedule=False)
                    pages.observed.append(t)

        try:
            found = await self._list_members(batch, members, take)
        except RateLimitedError as exc:
            if not exc.given:  # no usable time to come back: a floor, and it counts
                batch.failures += 1
                if batch.failures > loop.options.retries:
                    self._disband(batch, f"{provider.name}'s job list stayed rate limited "
                                         "with no usable time to come back")
                    return
            loop.jobs.rate_limited(batch, exc)
            return
        except UnavailableError as exc:
            batch.failures += 1
            if batch.failures > loop.options.retries:
                self._disband(batch, f"{provider.name}'s job list kept failing ({exc.message})")
            else:
                loop.push(loop.clock() + schedule.retry_delay(batch.failures, loop.options.max_interval), batch)
            return
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception:  # noqa: BLE001 - whatever it was, single lookups will say it properly
            self._disband(batch, None)
            return
        finally:
            loop.done_sending(route)
        batch.failures = 0
        now = loop.clock()
        for job_id, t in members.items():
            if job_id not in found and not t.finished and t.batch is batch:
                # Not in the window, or not returned: this one is looked up alone.
                self._detach(t, now)
        max_interval = loop.options.max_interval
        delay = schedule.next_batch_delay(batch.cadence, changed=pages.changed, now=now,
                                          max_interval=max_interval, rng=loop.rng)
        # Start to start: each page (so each job on it) is seen again `delay` later,
        # however long the cycle took.
        delay = max(0.0, started + delay - now)
        for t in pages.observed:
            if t.finished or t.job is None or t.batch is not batch:
                continue
            hop = schedule.aim_alone(t.cadence, t.job, now, delay, max_interval)
            if hop is not None:
                # Its finish comes before the next cycle: a lookup of its own, there.
                self.leave(t)
                t.home = None
                loop.push(schedule.send_at(now, hop, max_interval, aimed=True, gather=loop.gather), t)
        if not batch.members:
            batch.scheduled = False
            return
        loop.push(now + delay, batch)

    async def _list_members(self, batch: Batch, members: dict[str, "Tracked"],
                            take: Callable[[list[Job]], None]) -> dict[str, Job]:
        """Page through the provider's list until every member is found, or the list
        can hold none of the missing ones any more; each page's members go to
        `take` as it arrives."""
        endpoint = batch.route.endpoint
        provider = endpoint.provider
        created = [created_of(t) for t in members.values()]
        known = [c for c in created if c is not None]
        oldest = min(known) if known and len(known) == len(created) else None  # None: not all known yet
        since = until = None
        if batch.policy.dated:
            since, until = list_window(oldest, known, provider.list_max_span)
        if batch.policy.dated or oldest is not None:
            max_pages = BATCH_MAX_PAGES
        else:
            # No date filter and some creation times unknown (the first cycle): as
            # many pages as the members could fill, and a little slack; whoever is
            # not found by then is looked up alone once, and comes back.
            max_pages = math.ceil(len(members) / BATCH_PAGE) + 2
        found: dict[str, Job] = {}
        # Only where paging never reads the page's other jobs: an undated list stops
        # at its first job older than every member (older_than), whoever's it is.
        wanted_only = provider.parses_wanted and batch.policy.dated
        for state in batch.policy.active or (None,):
            cursor: str | None = None
            for _ in range(max_pages):
                request = provider.list_request(
                    since=since, until=until, state=state, limit=BATCH_PAGE, cursor=cursor)
                answer = await self.loop.http.get(endpoint, request)
                batch.route.pacer.observe(answer.headers, self.loop.clock())
                if wanted_only:  # the window's other jobs are not made jobs at all
                    page = provider.parse_list(answer, utcnow(), wanted=members)
                else:
                    page = provider.parse_list(answer, utcnow())
                mine = [job for job in page.jobs if job.id in members]
                for job in mine:
                    found[job.id] = job  # a later query is the fresher answer
                take(mine)
                cursor = page.cursor
                if not cursor or len(found) == len(members):
                    break
                if oldest is not None and not batch.policy.dated and older_than(page.jobs, oldest):
                    break  # newest first: the rest of the list was created before any member
            if len(found) == len(members):
                break
        return found

    def _detach(self, t: "Tracked", now: float) -> None:
        """Out of its batch, and looked up alone now."""
        self.leave(t)
        self.loop.push(now, t)

    def leave(self, t: "Tracked") -> None:
        if t.batch is not None:
            t.batch.members.pop(t.id, None)
            t.batch = None

    def rejoin(self, t: "Tracked", now: float) -> bool:
        """A job the list missed once comes back to its batch when its creation time
        is known (it narrows the list's window). Once only: a job the list keeps
        missing (a foreign ID) stays with single lookups."""
        home = t.home
        if home is None or t.batch is not None or t.rejoins >= 1 or created_of(t) is None:
            return False
        t.rejoins += 1
        t.batch = home
        home.members[t.id] = t
        if not home.scheduled:
            home.scheduled = True
            self.loop.push(now + home.cadence.base, home)
        return True

    def _disband(self, batch: Batch, reason: str | None) -> None:
        now = self.loop.clock()
        batch.scheduled = False
        for t in list(batch.members.values()):
            t.home = None
            self._detach(t, now)
        if reason:
            self.loop.emit(Update(Kind.WARNING, batch.route.endpoint.provider.name, None,
                                  text=f"{reason}; looking jobs up one by one"))


def list_window(oldest: datetime | None, known: list[datetime], max_span: timedelta | None) -> tuple[datetime, datetime]:
    """A dated list's [since, until]: from the oldest member's created_at to now, so
    every member was created inside it. While some member's created_at is not known
    yet (`oldest` None), it reaches back at least the default lookback; never
    longer than the provider's `max_span`."""
    wall = utcnow()
    until = wall + BATCH_SKEW
    start = oldest if oldest is not None else min(known + [wall - BATCH_LOOKBACK])
    since = start - timedelta(seconds=1)
    if max_span is not None:
        since = max(since, until - max_span)
    return since, until


def older_than(jobs: list[Job], moment: datetime) -> bool:
    """Whether the last item of a newest-first page was created before `moment`
    (with a margin: Muvi gives whole seconds)."""
    if not jobs:
        return False
    created = parse_time(jobs[-1].created_at)
    return created is not None and created < moment - timedelta(seconds=2)


def created_of(t: "Tracked") -> datetime | None:
    for job in (t.job, t.target.previous):
        moment = parse_time(job.created_at) if job is not None else None
        if moment is not None:
            return moment
    return None
