"""The watch loop: polls many jobs at once until each finishes; yields updates,
never prints.

Shape, and why:
- One scheduler over a heap of due times, not a task per job sleeping: 5,000 jobs
  cost 5,000 heap entries, and a task exists only while its request is in flight.
- Jobs are reached through a *route* per (provider, base URL, key): a pacer (the
  provider's rate budget and any 429 pause, pacing.py) and a cap on requests in
  flight, with FIFO queues in front of both so waiting jobs take fair turns.
- When to look next is the policy's (schedule.py); what a lookup means is
  lookup.py's; what an answer does to a job is tracking.py's; jobs answered
  together through a list endpoint are batch.py's. This module only sends.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable

from jobpoll.engine.batch import Batch, Batcher
from jobpoll.engine.pacing import Pacer
from jobpoll.engine.schedule import GATHER_FROM_JOBS, Cadence, traits_of
from jobpoll.engine.tracking import Tracked, Tracker
from jobpoll.engine.updates import JobResult, PollOptions, Stop, Update

if TYPE_CHECKING:
    from jobpoll.config import Endpoint
    from jobpoll.http import AsyncHttp
    from jobpoll.targets import Target


def route_key(endpoint: "Endpoint") -> tuple[str, str, str | None]:
    return (endpoint.provider.name, endpoint.base_url, endpoint.key)


class Route:
    """One provider, base URL and key: its pacer and its cap on requests in flight."""

    __slots__ = ("endpoint", "pacer", "in_flight", "queue", "announced_until")

    def __init__(self, endpoint: "Endpoint", now: float):
        self.endpoint = endpoint
        self.pacer = Pacer(endpoint.provider.budget, now)
        self.in_flight = 0
        self.queue: deque = deque()  # units waiting for a free slot
        self.announced_until = 0.0


class _Beat:
    """The heap entry for the periodic heartbeat scan."""


class WatchLoop:
    """Watches `targets` until each is finished, or a stop. `run(on_update)` calls
    `on_update` for every Update, from the event loop, in order."""

    def __init__(
        self,
        targets: Iterable["Target"],
        options: PollOptions,
        http: "AsyncHttp",
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.options = options
        self.http = http
        self.clock = clock
        self.rng = rng or random.Random()
        now = clock()
        self._routes: dict[tuple, Route] = {}
        self.tracked: list[Tracked] = []
        for target in targets:
            route = self._route(target.endpoint, now)
            cadence = Cadence.start(traits_of(target.endpoint, options.interval, batched=False), now)
            self.tracked.append(Tracked(target, route, cadence, now))
        self.gather = len(self.tracked) >= GATHER_FROM_JOBS  # lookups wait for company (schedule.send_at)
        self.jobs = Tracker(self)
        self.batches = Batcher(self)
        self._heap: list[tuple[float, int, object]] = []
        self._seq = itertools.count()
        self._out: deque[Update] = deque()
        self._tasks: set[asyncio.Task] = set()
        self.active = 0
        self._wakeup: asyncio.Future | None = None
        self._closing = False
        self.stopped: Stop | None = None

    # ---- public ------------------------------------------------------------
    async def run(self, on_update: Callable[[Update], None]) -> Stop:
        """Poll until every job is finished or something stops the watch; returns why."""
        self._start(self.clock())
        try:
            while True:
                while self._out:
                    on_update(self._out.popleft())
                if self.stopped is not None:
                    break
                if self.active == 0:
                    self.stopped = Stop.FINISHED
                    break
                now = self.clock()
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
        return [JobResult(t.target.ref, t.job, t.error, t.finished) for t in self.tracked]

    # ---- for the tracker and the batcher -----------------------------------------
    def push(self, due: float, unit: object) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), unit))
        if self._wakeup is not None and self._heap[0][2] is unit:
            self._kick()

    def emit(self, update: Update) -> None:
        self._out.append(update)
        self._kick()

    def wake_pacer(self, route: Route, at: float) -> None:
        if not route.pacer.wake_scheduled:
            route.pacer.wake_scheduled = True
            self.push(at, route)

    def done_sending(self, route: Route) -> None:
        route.in_flight -= 1
        if route.queue and not self._closing:
            self._send(route.queue.popleft())

    # ---- scheduling --------------------------------------------------------
    def _route(self, endpoint: "Endpoint", now: float) -> Route:
        key = route_key(endpoint)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = Route(endpoint, now)
        return route

    def _start(self, now: float) -> None:
        self.active = len(self.tracked)
        for unit in self.batches.form(self.tracked, now):
            self.push(now, unit)
        if self.options.heartbeat > 0:
            self.push(now + self._beat_period(), _Beat())

    def _run_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now and self.stopped is None:
            _, _, unit = heapq.heappop(heap)
            if isinstance(unit, Route):
                self._release_paced(unit, now)
            elif isinstance(unit, _Beat):
                self.jobs.heartbeats(now)
                self.push(now + self._beat_period(), unit)
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
            self.wake_pacer(route, now + wait)
            return
        self._send(unit)

    def _release_paced(self, route: Route, now: float) -> None:
        pacer = route.pacer
        pacer.wake_scheduled = False
        while pacer.waiting:
            wait = pacer.take(now)
            if wait > 0:
                self.wake_pacer(route, now + wait)
                return
            self._send(pacer.waiting.popleft())

    def _send(self, unit) -> None:
        route = unit.route
        if route.in_flight >= self.options.max_in_flight:
            route.queue.append(unit)
            return
        route.in_flight += 1
        work = self.batches.cycle(unit) if isinstance(unit, Batch) else self.jobs.lookup(unit)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    async def _cancel_tasks(self) -> None:
        self._closing = True  # cancelled lookups must not start queued ones on their way out
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
