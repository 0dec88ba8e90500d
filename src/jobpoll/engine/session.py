"""A command's (or library call's) run of the engine, from references to results:
`check()` for one-shot lookups (`status`), `plan_watch()` and `WatchPlan.run()`
for watching. They gather the targets (targets.py), open and close the history,
make the HTTP client, and run lookup.py's rules or the watch loop; callers only
render what comes back (the commands) or hand it on (api.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from jobpoll.config import Config
    from jobpoll.engine.lookup import Outcome
    from jobpoll.engine.updates import JobResult, PollOptions, Stop, Update
    from jobpoll.history import History
    from jobpoll.targets import Gathered

Warn = Callable[[str], None]


@dataclass
class StatusReport:
    """Every reference's outcome, in order, and what rendering them needs."""

    outcomes: "list[Outcome]"
    secrets: list[str] = field(default_factory=list)  # keys, never to be printed
    history: "History | None" = None

    def exit_code(self, *, exit_status: bool = False) -> int:
        """The command's exit status by SPEC's precedence (with `exit_status`, jobs
        that ended badly or are not finished count too)."""
        from jobpoll.exits import combine

        return int(combine(c for c in (o.exit_code(exit_status=exit_status) for o in self.outcomes)
                           if c is not None))

    def finish(self) -> None:
        """Record what was found in the history, and close it."""
        history, self.history = self.history, None
        if history is None:
            return
        try:
            once = {id(o): o for o in self.outcomes}.values()  # a job named twice is one outcome
            history.record([o.job for o in once if o.job is not None and o.error is None])
        finally:
            history.close()


def check(
    refs: list[str] | None,
    *,
    config: "Config",
    warn: Warn,
    provider: str | None = None,
    stdin: Any = None,
    verbose: bool = False,
    use_history: bool = True,
) -> StatusReport:
    """Look every reference up once, all at once (`jobpoll status`'s engine).
    Bad references raise before any request; every other problem is an
    outcome's error. Call `finish()` on the report when done with it."""
    from jobpoll.engine.lookup import Outcome
    from jobpoll.targets import gather

    gathered = gather(config, refs, provider, warn=warn, stdin=stdin, use_history=use_history)
    found: dict[str, Outcome] = {}
    if gathered.targets:
        from jobpoll.engine.lookup import lookup_all
        from jobpoll.http import SyncHttp

        with SyncHttp(verbose=verbose) as http:
            found = {o.ref: o for o in lookup_all(http, gathered.targets, on_wait=_wait_notice(warn))}
    outcomes = [found.get(r.ref) or Outcome(r.ref, error=gathered.errors[r]) for r in gathered.refs]
    secrets = [t.endpoint.key for t in gathered.targets if t.endpoint.key]
    return StatusReport(outcomes, secrets, gathered.history)


def _wait_notice(warn: Warn) -> "Callable[[str, float], None]":
    """Says on stderr what a 429 wait is for and until when (a silent 15 s looks
    like a hang), once per provider and moment, however many jobs wait on it."""
    import threading
    from datetime import datetime, timezone

    said: set[tuple[str, int]] = set()
    lock = threading.Lock()

    def notice(provider: str, until: float) -> None:
        with lock:
            if (provider, round(until)) in said:
                return
            said.add((provider, round(until)))
        moment = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%SZ")
        seconds = max(0, round(until - time.time()))
        warn(f"{provider} rate limited the key (429): waiting until {moment} ({seconds} s), as it asked")

    return notice


# ---- watching -------------------------------------------------------------------------------


@dataclass
class WatchPlan:
    """What a watch needs, checked before anything is sent."""

    gathered: "Gathered"
    options: "PollOptions"
    verbose: bool = False

    def connections(self) -> int:
        from jobpoll.engine.watch import route_key

        routes = {route_key(t.endpoint) for t in self.gathered.targets}
        return max(10, min(256, len(routes) * self.options.max_in_flight))

    async def run(self, on_update: "Callable[[Update], None]", *, signals: bool = False) -> "tuple[Stop, list[JobResult]]":
        """Watch to the end, or a stop; (why it stopped, every job's result).
        History writes happen on a thread of their own; `signals` lets Ctrl-C and
        SIGTERM stop the watch with the last known states (main thread only)."""
        from jobpoll.engine.recorder import HistoryRecorder
        from jobpoll.engine.updates import Stop
        from jobpoll.engine.watch import WatchLoop
        from jobpoll.http import AIOHTTP_FROM_JOBS, AsyncHttp

        history, self.gathered.history = self.gathered.history, None
        recorder = HistoryRecorder(history) if history is not None else None

        def handle(update: "Update") -> None:
            if recorder is not None:
                recorder.update(update)
            on_update(update)

        # Built inside the loop: aiohttp binds its session to the running loop.
        # aiohttp's transport pays its 0.2 s import back only when there is much to poll.
        http = AsyncHttp(verbose=self.verbose, max_connections=self.connections(),
                         aiohttp=len(self.gathered.targets) >= AIOHTTP_FROM_JOBS)
        watcher = self._watcher = WatchLoop(self.gathered.targets, self.options, http)
        installed = _install_signals(lambda: watcher.stop(Stop.INTERRUPTED)) if signals else []
        try:
            stop = await watcher.run(handle)
        finally:
            _remove_signals(installed)
            await _close_quietly(http)
            if recorder is not None:
                recorder.close()
        return stop, watcher.results()

    def stop(self, reason: "Stop") -> None:
        """Stop a running watch at its next turn (e.g. --fail-fast on a failed hook)."""
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.stop(reason)

    def close(self) -> None:
        """Close the history when the plan is dropped without running."""
        if self.gathered.history is not None:
            self.gathered.history.close()
            self.gathered.history = None


def plan_watch(
    refs: list[str] | None,
    options: "PollOptions",
    *,
    config: "Config",
    warn: Warn,
    provider: str | None = None,
    stdin: Any = None,
    verbose: bool = False,
    use_history: bool = True,
) -> WatchPlan:
    from jobpoll.targets import gather

    gathered = gather(config, refs, provider, warn=warn, stdin=stdin, use_history=use_history)
    return WatchPlan(gathered, options, verbose)


def _install_signals(stop: Callable[[], None]) -> list[int]:
    """Ctrl-C, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) stop
    the engine, which then records and reports the last known states; one the
    process was started with set to be ignored (nohup's SIGHUP) stays ignored."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    return installed


def _remove_signals(installed: list[int]) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    for sig in installed:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass


async def _close_quietly(http: Any) -> None:
    try:
        await http.aclose()
    except Exception:  # noqa: BLE001 - closing after an interrupt must not become the error shown
        pass
