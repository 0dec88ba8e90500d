"""`jobpoll watch`: poll jobs until each finishes, showing progress as it goes.

The command only wires things together: options parsed, the engine planned and
run (engine/session.py: references, endpoints, the watch loop, the history), the
view (watch_render.py) showing, and one exit code out by SPEC's precedence.
Everything heavy is imported when it runs. Typer-free: `jobpoll watch REF` runs
`watch` straight from the fast path (fastpath.py); its options and help are
declared for Typer in commands/wrappers.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobpoll.engine.session import WatchPlan
    from jobpoll.context import AppContext
    from jobpoll.engine.updates import JobResult, Stop
    from jobpoll.watch_render import WatchView


def watch(
    app: "AppContext",
    jobs: list[str] | None = None,
    interval: str | None = None,
    max_interval: str = "60s",
    timeout: str | None = None,
    retries: int = 5,
    fail_fast: bool = False,
    heartbeat: str = "60s",
    json_: bool = False,
    field: str | None = None,
    provider: str | None = None,
    download: str | None = None,
    types: list[str] | None = None,
    name: str | None = None,
    exec_: str | None = None,
) -> int:
    """Watch the jobs to the end and return the exit code."""
    started = _invoked_at()  # -t counts from the command's start, imports included
    import sys

    from jobpoll.engine.session import plan_watch
    from jobpoll.durations import parse_duration, parse_interval
    from jobpoll.engine.updates import PollOptions
    from jobpoll.render import check_field, choose_mode

    first = parse_interval(interval, what="--interval") if interval is not None else None
    ceiling = parse_interval(max_interval, what="--max-interval")
    deadline = parse_duration(timeout, what="--timeout") if timeout is not None else None
    beat = parse_duration(heartbeat, what="--heartbeat")
    check_field(field)
    mode = choose_mode(json_=json_, field=field)
    finish = _finish_options(download, types, name, exec_, retries, app.verbose)
    options = PollOptions(
        interval=first,
        max_interval=ceiling,
        deadline=started + deadline if deadline is not None else None,
        retries=retries,
        fail_fast=fail_fast,
        heartbeat=beat,
    )
    plan = plan_watch(jobs, options, config=app.config(), warn=app.warn, provider=provider,
                      stdin=sys.stdin, verbose=app.verbose)
    if not plan.gathered.refs and not app.quiet:  # '-' and an empty stdin
        print("jobpoll: no job references on stdin: nothing to watch", file=sys.stderr)
    code, _, _ = run_watch(app, plan, mode=mode, field=field, finish=finish, on_update=_first_update())
    return int(code)


def _first_update() -> Any:
    """An on_update for run_watch: at the first update the watch loop runs and
    start-up is over; a watch may go on for hours, so from then on the garbage
    collector runs at Python's own pace (collector.py)."""
    from jobpoll import collector

    pending = [True]

    def on_update(update: Any) -> None:
        if pending:
            pending.clear()
            collector.started()

    return on_update


def _finish_options(download: str | None, types: list[str] | None, name: str | None, command: str | None,
                    retries: int, verbose: bool) -> Any:
    """What to do with each job that reaches a final state; None: nothing."""
    from jobpoll.errors import UsageError

    if download is None and (types or name):
        raise UsageError("--type and --name go with --download DIR")
    if download is None and command is None:
        return None
    from jobpoll.engine.finishing import FinishOptions
    from jobpoll.engine.names import check_template, check_types

    if command is not None and not command.strip():
        raise UsageError("--exec needs a command")
    options = FinishOptions(command=command, retries=retries)
    if download is not None:
        from jobpoll.engine.download import prepare_directory

        options.types = check_types(types)
        options.template = check_template(name) if name is not None else None
        options.directory = prepare_directory(download)
    if verbose:
        import sys

        options.log = lambda line: print(line, file=sys.stderr)
    return options


def run_watch(
    app: "AppContext",
    plan: "WatchPlan",
    *,
    mode: Any,
    field: str | None = None,
    view: "WatchView | None" = None,
    on_update: Any = None,
    finish: Any = None,
) -> "tuple[int, list[JobResult], Stop]":
    """Watch the plan's jobs to the end and show it; returns (exit code, results,
    why it stopped). Shared by `watch` and `demo`. With `finish` (FinishOptions),
    each job that reaches a final state has its outputs saved and its hook run
    beside the watch, which waits for them before it ends."""
    import asyncio

    from jobpoll.engine.updates import Stop, watch_exit_code
    from jobpoll.errors import JobpollError
    from jobpoll.eventloop import new_event_loop
    from jobpoll.exits import combine
    from jobpoll.watch_render import make_view

    if view is None:
        view = make_view(mode, field=field, color=app.color, quiet=app.quiet, heartbeat=plan.options.heartbeat)
    errors = list(plan.gathered.errors.values())
    for error in errors:
        view.error(error)
    targets = plan.gathered.targets
    if not targets:
        plan.close()
        return watch_exit_code([], Stop.FINISHED, errors), [], Stop.FINISHED

    codes: list[int] = []  # what saving outputs and running hooks add
    after = _AfterFinal(plan, view, finish, codes) if finish is not None else None

    def handle(update) -> None:
        if after is not None and after.takes(update):
            view.update(update, stdout=False)  # stdout when its files are known
        else:
            view.update(update)
        if on_update is not None:
            on_update(update)

    async def watch_then_finish() -> "tuple[Stop, list[JobResult]]":
        stop, results = await plan.run(handle, signals=True)
        if after is not None:
            await after.end(stop)
        return stop, results

    view.start([t.ref.ref for t in targets])
    try:
        # asyncio.run's Runner, on a loop that reads sockets in small pieces (eventloop.py)
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            stop, results = runner.run(watch_then_finish())  # the history is written first
    finally:
        view.close()
    try:
        view.finish(results, stop)
    except (OSError, JobpollError):
        if stop is not Stop.INTERRUPTED:
            raise
        # SIGHUP: the terminal may be gone; the last states were shown where possible.
    return combine([watch_exit_code(results, stop, errors), *codes]), results, stop


class _AfterFinal:
    """watch --download/--exec: each final update goes to the finisher (its download,
    then its hook, beside the watch loop); its stdout line waits for the files.
    Download errors (exit 6, or 4 for no such output) and failed hooks (exit 1)
    are one line each; with --fail-fast either stops the watch."""

    def __init__(self, plan: "WatchPlan", view: "WatchView", options: Any, codes: list[int]):
        from jobpoll.engine.finishing import Finisher

        self._plan, self._view, self._codes = plan, view, codes
        self._held: dict[str, Any] = {}
        self._saving = options.directory is not None
        if view.live is not None and options.command is not None:
            options.relay = view.relay
        self._finisher = Finisher(options, self._done, self._saved)

    def takes(self, update: Any) -> bool:
        from jobpoll.engine.updates import Kind

        if update.kind is not Kind.FINAL or update.job is None:
            return False
        self._held[update.ref] = update
        self._finisher.submit(update.job)
        return True

    def _saved(self, finished: Any) -> None:
        """The download is over: the job's line on stdout, with its files."""
        from dataclasses import replace

        update = self._held.pop(finished.job.ref)
        self._view.to_stdout(replace(update, files=finished.files if self._saving else None))
        if self._view.live is not None:  # at a terminal, where the paths are not on stdout
            for path in finished.files:
                self._view.note(f"{finished.job.ref}: saved {path}")
        for error in finished.errors:
            self._view.error(error)
            self._codes.append(error.exit_code)

    def _done(self, finished: Any) -> None:
        """The hook has run too."""
        from jobpoll.engine.updates import Stop
        from jobpoll.errors import JobpollError
        from jobpoll.exits import ExitCode

        if finished.hook is not None and not finished.hook.ok:
            self._view.error(JobpollError(finished.hook.line()))
            self._codes.append(ExitCode.JOB_FAILED)
        if not finished.ok and self._plan.options.fail_fast:
            self._plan.stop(Stop.FAIL_FAST)

    async def end(self, stop: Any) -> None:
        """Wait for every download and hook; on a deadline or Ctrl-C, end them
        instead (a .part stays for a later resume)."""
        import asyncio

        from jobpoll.engine.session import _install_signals, _remove_signals
        from jobpoll.engine.updates import Stop

        if stop in (Stop.DEADLINE, Stop.INTERRUPTED):
            await self._finisher.cancel()
            return
        draining = asyncio.ensure_future(self._finisher.drain())
        installed = _install_signals(draining.cancel)
        try:
            await draining
        except asyncio.CancelledError:
            await self._finisher.cancel()
            from jobpoll.exits import ExitCode

            self._codes.append(ExitCode.INTERRUPTED)
            self._view.note("interrupted")
        finally:
            _remove_signals(installed)


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
