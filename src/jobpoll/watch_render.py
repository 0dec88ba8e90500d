"""How `watch` shows what the engine reports, chosen once per run.

Two independent parts behind one interface (`WatchView`):
- the data on stdout, by render.Mode: TABLE (a summary table at the end, the live
  display being the progress), PLAIN (one timestamped tab-separated line per
  change), JSON (SPEC's NDJSON stream), FIELD (one value per job when it finishes);
- the progress for people: a rich Live display where there is a terminal for it
  (stdout in TABLE mode, else stderr), otherwise nothing but heartbeat lines,
  warnings and errors on stderr.

rich is imported only by the live display, so pipes and CI never pay for it.
Every piece of provider text goes through render.safe_text and rich Text objects:
never parsed as markup, never an escape sequence.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timezone
from typing import Callable, TextIO

from jobpoll.durations import format_duration
from jobpoll.errors import JobpollError, clip_line
from jobpoll.model import BAD_ENDINGS, Job, State
from jobpoll.engine.updates import JobResult, Kind, Stop, Update
from jobpoll.render import (
    STATE_STYLE,
    Mode,
    field_value,
    is_terminal,
    job_line,
    job_record,
    make_console,
    plain_line,
    print_jobs,
    progress_text,
    safe_text,
    shorten_ref,
    summary_text,
)

Say = Callable[[str], None]


def stamp(moment: datetime | None = None) -> str:
    """The plain-mode timestamp: ISO-8601 UTC to the second, Z."""
    moment = moment or datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the data on stdout ------------------------------------------------------------


class _Sink:
    """What goes to stdout for each update, by mode. A reader at the other end of a
    pipe (`| jq`) wants lines as they happen, so the stream is flushed as soon as
    the engine has handed over what it had at once: one write for a whole list
    page's changes rather than one per line (10,000 jobs make tens of thousands of
    lines)."""

    def __init__(self, mode: Mode, stream: TextIO, field: str | None):
        self.mode, self.stream, self.field = mode, stream, field
        self._flush_due = False
        self._failed: Exception | None = None  # a flush from the event loop that failed
        # Set when the live display shares stdout's terminal: lines are printed
        # through it, above the live rows and whole, not under its redraws.
        self.print_line: Callable[[str], None] | None = None

    def update(self, update: Update) -> None:
        if self._failed is not None:  # e.g. `| head` has gone: end as a write would
            raise self._failed
        job = update.new_state
        if job is None:
            return
        if self.mode is Mode.PLAIN:
            line = f"{stamp()}\t{plain_line(job)}"
        elif self.mode is Mode.JSON:
            line = job_line(job, {"files": update.files} if update.files is not None else None)
        elif self.mode is Mode.FIELD and update.kind is Kind.FINAL:
            line = field_value(job_record(job), self.field or "")
        else:
            return
        if self.print_line is not None:
            self.print_line(line)
            return
        self.stream.write(line + "\n")
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no engine running: nothing else is coming at once
            self.stream.flush()
            return
        self._flush_due = True
        loop.call_soon(self._flush_later)  # after the updates handed over with this one

    def _flush_later(self) -> None:
        try:
            self.flush()
        except (OSError, JobpollError) as exc:  # raised here it would only be logged by the event loop
            self._failed = exc  # (a full disk comes as an OutputError)

    def flush(self) -> None:
        self._flush_due = False
        self.stream.flush()


# ---- the live display -------------------------------------------------------------


class _Row:
    __slots__ = ("ref", "job", "note", "note_bad", "note_until", "started", "ended", "error", "last_progress")

    def __init__(self, ref: str, started: float):
        self.ref = ref
        self.job: Job | None = None
        self.note = ""  # what the engine is doing about it: retrying, rate limited
        self.note_bad = False
        self.note_until: float | None = None  # epoch seconds the note stops being true
        self.started = started
        self.ended: float | None = None
        self.error: "JobpollError | None" = None
        self.last_progress: float | None = None  # shown for a job that failed saying none


class _Board:
    """The live display's content, rebuilt at each refresh (a few times a second) from
    the rows; with thousands of jobs only as many rows as fit are drawn."""

    def __init__(self, rows: dict[str, _Row], started: float):
        self.rows = rows
        self.started = started

    def __rich_console__(self, console, options):
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        wall = time.time()
        rows, hidden, hidden_unfinished = self._visible(options.height or console.height or 24)
        layout = live_layout(options.max_width, [r.ref for r in rows])
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, width=layout.job)  # job: shortened by shorten_ref, never by rich
        table.add_column(no_wrap=True, width=STATE_WIDTH)  # state, always whole
        if layout.bar:
            table.add_column(width=layout.bar, no_wrap=True)
        if layout.percent:
            table.add_column(justify="right", width=4, no_wrap=True)
        if layout.elapsed:
            table.add_column(justify="right", width=6, no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)  # message
        for row in rows:
            job = row.job
            state = job.state if job else None
            if row.error is not None:
                state_text = Text("error", style="red")
            elif state is None:
                state_text = Text("waiting", style="dim")
            else:
                state_text = Text(state.value, style=STATE_STYLE.get(state, ""))
            progress = job.progress if job else None
            if progress is None and state in BAD_ENDINGS:
                progress = row.last_progress  # how far it got, not a drop to nothing
            cells = [Text(shorten_ref(safe_text(row.ref), layout.job)), state_text]
            if layout.bar:
                if state is State.DONE:
                    bar = ProgressBar(total=100, completed=100, width=layout.bar)
                elif progress is not None:
                    bar = ProgressBar(total=100, completed=progress, width=layout.bar,
                                      complete_style="red" if state in BAD_ENDINGS else "bar.complete")
                elif row.ended is not None:
                    bar = ProgressBar(total=100, completed=0, width=layout.bar)
                else:
                    bar = ProgressBar(total=None, width=layout.bar, animation_time=now)  # indeterminate
                cells.append(bar)
            if layout.percent:
                cells.append(Text("" if progress is None else f"{progress:.0f}%"))
            if layout.elapsed:
                cells.append(Text(format_duration((row.ended or now) - row.started)))
            if row.error is not None:
                message = Text(safe_text(row.error.message), style="red")
            elif row.note and (row.note_until is None or wall < row.note_until):
                message = Text(row.note, style="yellow" if row.note_bad else "dim")
            else:
                message = Text(summary_text(job) if job else "", style="red" if job and job.error else "")
            table.add_row(*cells, message)
        yield table
        if hidden:
            more = f"+{hidden} more" + (f" ({hidden_unfinished} unfinished)" if hidden_unfinished else "")
            yield Text(more + ": the summary at the end lists every job", style="dim", overflow="ellipsis",
                       no_wrap=True)
        yield Text(self._footer(now), style="dim", overflow="ellipsis", no_wrap=True)

    def _visible(self, height: int) -> "tuple[list[_Row], int, int]":
        """The rows that fit `height` lines with the footer (and, when some do not
        fit, a '+N more' line): unfinished first, as that is what is waited for.
        Returns (rows, how many are hidden, how many of those are unfinished)."""
        rows = list(self.rows.values())
        room = max(1, height - 2)  # the footer, and the line the cursor rests on
        if len(rows) <= room:
            return rows, 0, 0
        room = max(1, room - 1)  # the "+N more" line
        unfinished = [r for r in rows if r.ended is None]
        shown = unfinished[:room]
        shown += [r for r in rows if r.ended is not None][: room - len(shown)]
        return shown, len(rows) - len(shown), len(unfinished) - min(len(unfinished), room)

    def _footer(self, now: float) -> str:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            name = "error" if row.error else (row.job.state.value if row.job else "waiting")
            counts[name] = counts.get(name, 0) + 1
        total = len(self.rows)
        done = counts.get("done", 0)
        parts = [f"{done}/{total} done"] + [
            f"{n} {name}" for name, n in sorted(counts.items()) if name != "done"]
        return " · ".join(parts) + f" · {format_duration(now - self.started)} elapsed"


STATE_WIDTH = 9  # "cancelled", the longest state word


class LiveLayout:
    __slots__ = ("job", "bar", "percent", "elapsed")

    def __init__(self, job: int, bar: int, percent: bool, elapsed: bool):
        self.job, self.bar, self.percent, self.elapsed = job, bar, percent, elapsed


def live_layout(width: int, refs: list[str], *, message: int = 16) -> LiveLayout:
    """Column widths of the live rows for a terminal `width` wide. Each row keeps
    its state whole and enough of its reference to tell it from the others (the
    provider and the end of the ID); where the width runs out, in this order: the
    reference keeps only the end of its ID, the bar narrows, elapsed time goes,
    the bar goes, the reference shrinks further, the percentage goes."""
    longest = max((len(r) for r in refs), default=3)
    tail = max((len(r.split(":", 1)[0]) + 2 + 13 for r in refs), default=16)  # provider:…13 chars
    layout = LiveLayout(job=longest, bar=24, percent=True, elapsed=True)

    def spare() -> int:
        used = layout.job + STATE_WIDTH + layout.bar + 4 * layout.percent + 6 * layout.elapsed
        columns = 3 + bool(layout.bar) + layout.percent + layout.elapsed
        return width - used - (columns - 1)  # one space between columns

    # (what changes, to what, while the message column has less than this)
    steps = (("job", min(longest, tail), message), ("bar", 12, message), ("elapsed", False, message),
             ("bar", 0, message), ("job", 14, 10), ("percent", False, 10), ("job", 6, 10))
    for name, value, need in steps:
        if spare() >= need:
            continue
        if name == "job":
            value = min(layout.job, max(value, layout.job - (need - spare())))
        setattr(layout, name, value)
    return layout


class _Live:
    """A rich Live display of the board on a terminal stream."""

    def __init__(self, stream: TextIO, *, color: bool, redirect_stderr: bool):
        from rich.live import Live

        self.console = make_console(stream, color=color)
        self.summary_console = None  # where the summary table goes, if not the live console
        self.started = time.monotonic()
        self.rows: dict[str, _Row] = {}
        self.board = _Board(self.rows, self.started)
        self._live = Live(
            self.board, console=self.console, refresh_per_second=4, transient=True,
            redirect_stdout=False, redirect_stderr=redirect_stderr,
        )

    def start(self, refs: list[str]) -> None:
        for ref in refs:
            self.rows.setdefault(ref, _Row(ref, self.started))
        self._live.start()

    def update(self, update: Update) -> None:
        if update.kind is Kind.RATE_LIMITED and update.until is not None:
            # Every job of that provider and key waits, not just the one that met it.
            prefix = update.provider + ":"
            note = f"rate limited: waiting until {_clock_time(update.until)}"
            for other in self.rows.values():
                if other.ended is None and other.ref.startswith(prefix):
                    other.note, other.note_bad, other.note_until = note, True, update.until
            return
        row = self.rows.get(update.ref)
        if row is None:  # a provider-wide note (e.g. a json2video list warning)
            return
        if update.job is not None:
            row.job = update.job
            if update.job.progress is not None:
                row.last_progress = update.job.progress
        if update.kind in (Kind.SEEN, Kind.CHANGED):
            row.note = ""
        elif update.kind is Kind.FINAL:
            row.note, row.ended = "", time.monotonic()
        elif update.kind is Kind.ERROR:
            row.error, row.ended = update.error, time.monotonic()
        elif update.kind is Kind.RETRYING and update.error is not None:
            row.note, row.note_bad = f"{update.text}: {safe_text(update.error.message)}", True
            row.note_until = None

    def stop(self) -> None:
        self._live.stop()

    def print_line(self, line: str) -> None:
        """A result line on the live display's terminal: printed above the live
        rows, whole (the terminal wraps it, rich does not cut it)."""
        from rich.text import Text

        self.console.print(Text(line), soft_wrap=True)

    def summary(self, results: list[JobResult]) -> None:
        rows = [(r.job, None) for r in results if r.job is not None]
        if rows:
            print_jobs(self.summary_console or self.console, rows)


def _clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%SZ")


# ---- the one interface ------------------------------------------------------------


class WatchView:
    """Everything `watch` shows. Build it with `make_view`; call start, update for
    each engine update, finish once at the end, and close in any case."""

    def __init__(self, sink: _Sink | None, live: _Live | None, *, heartbeat_lines: bool,
                 quiet: bool, stderr: Callable[[], TextIO]):
        self.sink = sink
        self.live = live
        self.heartbeat_lines = heartbeat_lines
        self.quiet = quiet
        self._stderr = stderr  # looked up at each write: rich's Live may redirect it
        self._live_running = False

    # stderr lines --------------------------------------------------------------
    def _line(self, text: str) -> None:
        stream = self._stderr()
        stream.write(clip_line(text) + "\n")
        stream.flush()

    def error(self, error: "JobpollError") -> None:
        self._line(f"jobpoll: error: {safe_text(error.line())}")

    def warn(self, text: str) -> None:
        if not self.quiet:
            self._line(f"jobpoll: warning: {safe_text(text)}")

    def note(self, text: str) -> None:
        if not self.quiet:
            self._line(f"jobpoll: {text}")

    # the run -------------------------------------------------------------------
    def start(self, refs: list[str]) -> None:
        if self.live is not None:
            self.live.start(refs)
            self._live_running = True

    def update(self, update: Update, *, stdout: bool = True) -> None:
        """Show an update; `stdout=False` leaves stdout out (a final state waiting
        for its download: `to_stdout` prints it when the files are known)."""
        if self.sink is not None and stdout:
            self.sink.update(update)
        if self.live is not None:
            self.live.update(update)
        kind = update.kind
        if kind is Kind.ERROR and update.error is not None:
            self.error(update.error)
        elif kind is Kind.FINAL and self.sink is not None and self.live is None \
                and update.job is not None and update.job.state in BAD_ENDINGS:
            # Without a table anywhere, a bad ending also gets its line on stderr:
            # `--field url` alone would show it as an empty line.
            job = update.job
            self._line(f"jobpoll: error: {update.ref}: {job.state.value}: "
                       f"{summary_text(job) or safe_text(job.status)}")
        elif kind is Kind.WARNING and update.text:
            self.warn(update.text)
        elif kind is Kind.RATE_LIMITED and update.until is not None and self.live is None:
            self.warn(f"{update.provider} rate limited the key (429): "
                      f"waiting until {_clock_time(update.until)}, as it asked")
        elif kind is Kind.HEARTBEAT and self.heartbeat_lines and not self.quiet:
            self._line(f"jobpoll: still waiting: {heartbeat_text(update)}")

    def relay(self, text: str) -> None:
        """A line of someone else's output (a --exec hook's) on stderr, above any
        live display, as it is."""
        self._line(text)

    def to_stdout(self, update: Update) -> None:
        if self.sink is not None:
            self.sink.update(update)

    def finish(self, results: list[JobResult], stop: Stop) -> None:
        unfinished = [r for r in results if not r.finished]
        self.close()
        if self.live is not None:
            self.live.summary(results)
        elif stop in (Stop.DEADLINE, Stop.INTERRUPTED) and unfinished and not self.quiet:
            # No table anywhere: say where the unfinished jobs stand, on stderr.
            for result in unfinished:
                self._line(f"jobpoll: unfinished: {_last_known(result)}")
        if stop is Stop.DEADLINE and unfinished:
            self.note(f"timeout: {len(unfinished)} of {len(results)} jobs not finished")
        elif stop is Stop.INTERRUPTED:
            self.note("interrupted" + (f": {len(unfinished)} of {len(results)} jobs not finished"
                                       if unfinished else ""))
        elif stop is Stop.FAIL_FAST and unfinished:
            self.note(f"--fail-fast: stopped with {len(unfinished)} jobs not finished")

    def close(self) -> None:
        """Flush the data and take the live display down (idempotent; safe after an
        exception)."""
        if self.sink is not None:
            self.sink.flush()
        if self.live is not None and self._live_running:
            self._live_running = False
            try:
                self.live.stop()
            except (OSError, JobpollError):  # the terminal hung up (EIO): nothing to take down
                pass


def heartbeat_text(update: Update) -> str:
    job = update.job
    if job is None:
        what = "no answer yet"
    else:
        what = job.state.value + (f" {progress_text(job)}" if job.progress is not None else "")
    return f"{update.ref} {what} for {format_duration(update.quiet_for)}"


def _last_known(result: JobResult) -> str:
    if result.job is None:
        return f"{result.ref.ref} (no answer yet)"
    return plain_line(result.job).replace("\t", " ")


def same_terminal(one: TextIO, other: TextIO) -> bool:
    """Whether both streams are the same terminal device."""
    import os

    if not (is_terminal(one) and is_terminal(other)):
        return False
    try:
        return os.fstat(one.fileno()).st_rdev == os.fstat(other.fileno()).st_rdev
    except (OSError, ValueError, AttributeError):
        return False


def make_view(
    mode: Mode,
    *,
    field: str | None = None,
    color: bool = True,
    quiet: bool = False,
    heartbeat: float = 60.0,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    live: bool | None = None,
) -> WatchView:
    """The view for this run, chosen once: data on stdout by mode; a live display on
    stdout (TABLE) or on stderr when it is a terminal; heartbeat lines on stderr
    when stdout is not a terminal and nothing live is on stderr."""
    out = stdout or sys.stdout
    err_is_tty = is_terminal(stderr or sys.stderr)

    def err() -> TextIO:
        return stderr or sys.stderr

    sink = None if mode is Mode.TABLE else _Sink(mode, out, field)
    live_view = None
    if live is not False:
        if mode is Mode.TABLE:
            live_view = _Live(out, color=color, redirect_stderr=err_is_tty)
        elif sink is not None and not quiet and err_is_tty and same_terminal(out, err()):
            # stdout and stderr are one terminal: one console draws the live rows
            # and prints the result lines above them, or redraws would cut them.
            live_view = _Live(out, color=color, redirect_stderr=True)
            live_view.summary_console = make_console(err(), color=color)  # stdout keeps to the data
            sink.print_line = live_view.print_line
        elif (live or err_is_tty) and not quiet:
            live_view = _Live(err(), color=color, redirect_stderr=True)
    heartbeat_lines = heartbeat > 0 and mode is not Mode.TABLE and live_view is None
    return WatchView(sink, live_view, heartbeat_lines=heartbeat_lines, quiet=quiet, stderr=err)


__all__ = ["WatchView", "make_view", "stamp", "heartbeat_text"]
