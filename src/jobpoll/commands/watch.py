"""`jobpoll watch`: poll jobs until each finishes, showing progress as it goes.

The command only wires things together: references and endpoints in, the engine
(poller.py) polling, the view (watch_render.py) showing, the history recording, and
one exit code out by SPEC's precedence. Everything heavy is imported when it runs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from jobpoll.context import app_context

if TYPE_CHECKING:
    from jobpoll.context import AppContext
    from jobpoll.errors import JobpollError
    from jobpoll.poller import JobResult, PollOptions, Stop
    from jobpoll.targets import Target
    from jobpoll.watch_render import WatchView

JOBS_HELP = "Job references: PROVIDER:ID or a bare ID; '-' (or none, with stdin not a terminal) reads them from stdin."
HISTORY_EVERY = 1.0  # seconds between history writes while watching: changes are batched


def watch_command(
    ctx: typer.Context,
    jobs: Optional[List[str]] = typer.Argument(None, metavar="JOB...", help=JOBS_HELP, show_default=False),
    interval: Optional[str] = typer.Option(
        None, "-i", "--interval", metavar="DURATION",
        help="First interval between lookups of a job (default: the provider's advice: pictory 10s, others 5s).",
    ),
    max_interval: str = typer.Option(
        "60s", "--max-interval", metavar="DURATION", help="Longest interval while nothing changes."
    ),
    timeout: Optional[str] = typer.Option(
        None, "-t", "--timeout", metavar="DURATION", help="Overall deadline: then print what is known and exit 5."
    ),
    retries: int = typer.Option(
        5, "--retries", metavar="N", min=0,
        help="Failed lookups in a row (network, 5xx, unreadable answer) retried before a job is abandoned (exit 6).",
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first job that ends badly."),
    heartbeat: str = typer.Option(
        "60s", "--heartbeat", metavar="DURATION",
        help="When stdout is not a terminal, a line on stderr for jobs unchanged this long (0: off).",
    ),
    json_: bool = typer.Option(False, "--json", help="NDJSON: a line per job when first seen and at every change."),
    field: Optional[str] = typer.Option(
        None, "--field", metavar="NAME", help="Print only this field of each job, once, when it finishes."
    ),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", metavar="PROVIDER", help="Provider for bare IDs."),
) -> None:
    """Poll jobs until each one finishes (done, failed, cancelled, timeout, expired)."""
    started = _invoked_at()  # -t counts from the command's start, imports included
    from jobpoll.durations import parse_duration
    from jobpoll.errors import UsageError
    from jobpoll.poller import PollOptions
    from jobpoll.render import check_field, choose_mode
    from jobpoll.targets import gather

    app = app_context(ctx)
    first = parse_duration(interval, what="--interval") if interval is not None else None
    ceiling = parse_duration(max_interval, what="--max-interval")
    deadline = parse_duration(timeout, what="--timeout") if timeout is not None else None
    beat = parse_duration(heartbeat, what="--heartbeat")
    if first is not None and first <= 0:
        raise UsageError("--interval must be more than 0 (e.g. 500ms, 5s)")
    if ceiling <= 0:
        raise UsageError("--max-interval must be more than 0 (e.g. 30s, 2m)")
    check_field(field)
    gathered = gather(app, jobs, provider)

    options = PollOptions(
        interval=first,
        max_interval=ceiling,
        deadline=started + deadline if deadline is not None else None,
        retries=retries,
        fail_fast=fail_fast,
        heartbeat=beat,
    )
    mode = choose_mode(json_=json_, field=field)
    code, _, _ = run_watch(app, gathered.targets, options, mode=mode, field=field,
                           errors=list(gathered.errors.values()), history=gathered.history)
    raise typer.Exit(int(code))


def run_watch(
    app: "AppContext",
    targets: "list[Target]",
    options: "PollOptions",
    *,
    mode: Any,
    field: str | None = None,
    errors: "list[JobpollError] | None" = None,
    history: Any = None,
    view: "WatchView | None" = None,
    on_update: Any = None,
) -> "tuple[int, list[JobResult], Stop]":
    """Watch `targets` to the end and show it; returns (exit code, results, why it
    stopped). Shared by `watch` and `demo`."""
    import asyncio

    from jobpoll.exits import ExitCode, combine
    from jobpoll.poller import Poller, Stop
    from jobpoll.watch_render import make_view

    if view is None:
        view = make_view(mode, field=field, color=app.color, quiet=app.quiet, heartbeat=options.heartbeat)
    codes: list[int] = []
    for error in errors or ():
        view.error(error)
        codes.append(error.exit_code)
    if not targets:
        if history is not None:
            history.close()
        return combine(codes), [], Stop.FINISHED
    recorder = _Recorder(history) if history is not None else None

    from jobpoll.http import AsyncHttp

    def handle(update) -> None:
        view.update(update)
        if recorder is not None:
            recorder.update(update)
        if on_update is not None:
            on_update(update)

    async def go():
        # Built inside the loop: aiohttp binds its session to the running loop.
        http = AsyncHttp(verbose=app.verbose, max_connections=_connections(targets, options))
        poller = Poller(targets, options, http)
        loop = asyncio.get_running_loop()
        installed = _install_signals(loop, lambda: poller.stop(Stop.INTERRUPTED))
        try:
            stop = await poller.run(handle)
        finally:
            _remove_signals(loop, installed)
            await _close_quietly(http)
        return stop, poller.results()

    view.start([t.ref.ref for t in targets])
    try:
        stop, results = asyncio.run(go())
    finally:
        view.close()
        if recorder is not None:
            recorder.close()
    view.finish(results, stop)
    codes.extend(c for c in (r.exit_code(stop) for r in results) if c is not None)
    if stop is Stop.INTERRUPTED:
        codes.append(ExitCode.INTERRUPTED)
    return combine(codes), results, stop


def _connections(targets, options) -> int:
    from jobpoll.poller import route_key

    routes = {route_key(t.endpoint) for t in targets}
    return max(10, min(256, len(routes) * options.max_in_flight))


class _Recorder:
    """Writes seen jobs to the history from a thread of its own: at first sight and
    on changes, batched to at most once a second (one transaction each), and
    whatever is left at the end. A history that another process holds locked
    delays these writes, never the polling."""

    def __init__(self, history: Any):
        import threading

        self.history = history
        self.pending: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jobpoll-history", daemon=True)
        self.thread.start()

    def update(self, update) -> None:
        job = update.new_state
        if job is not None:
            with self.lock:
                self.pending[(job.provider, job.id)] = job

    def _flush(self) -> None:
        with self.lock:
            jobs = list(self.pending.values())
            self.pending.clear()
        if jobs:
            self.history.record(jobs)

    def _run(self) -> None:
        while not self.stopping.wait(HISTORY_EVERY):
            self._flush()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()  # a write under way ends first: one writer on the connection
        try:
            self._flush()
        finally:
            self.history.close()


def _invoked_at() -> float:
    """When this process started, on the monotonic clock: `-t 30` means the command
    takes 30 s, start-up included. Linux reads it from /proc; elsewhere, now."""
    now = time.monotonic()
    try:
        import os

        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 60 else now  # anything odd: count from now


def _install_signals(loop, stop) -> list[int]:
    """Ctrl-C and SIGTERM stop the engine, which then reports the last known states."""
    import signal

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    return installed


def _remove_signals(loop, installed: list[int]) -> None:
    for sig in installed:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass


async def _close_quietly(http) -> None:
    try:
        await http.aclose()
    except Exception:  # noqa: BLE001 - closing after an interrupt must not become the error shown
        pass


