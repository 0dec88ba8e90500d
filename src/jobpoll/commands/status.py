"""`jobpoll status`: one lookup per job, all at once, then exit. The engine
(engine/session.py, engine/lookup.py) decides what each lookup shows and what it means
for the exit status; this module renders and gives the exit code.

Typer-free: `jobpoll status REF` runs it straight from the fast path (fastpath.py);
its options and help are declared for Typer in commands/wrappers.py.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobpoll.context import AppContext


def status(
    app: "AppContext",
    jobs: list[str] | None = None,
    json_: bool = False,
    field: str | None = None,
    raw: bool = False,
    exit_status: bool = False,
    provider: str | None = None,
) -> int:
    """Look each job up once, print it, and return the exit code."""
    from jobpoll.engine.session import check
    from jobpoll.render import JobPrinter, check_field, choose_mode

    check_field(field)
    mode = choose_mode(json_=json_, field=field, raw=raw)
    report = check(jobs, config=app.config(), warn=app.warn, provider=provider, stdin=sys.stdin,
                   verbose=app.verbose)
    if not report.outcomes and not app.quiet:  # '-' and an empty stdin
        print("jobpoll: no job references on stdin: nothing to look up", file=sys.stderr)
    printer = JobPrinter(mode, field=field, raw=raw, color=app.color, secrets=report.secrets)
    said: set[int] = set()  # a job named twice is printed twice, its notes said once
    try:
        for outcome in report.outcomes:
            repeat = id(outcome) in said
            said.add(id(outcome))
            for note in () if repeat else outcome.warnings:
                app.warn(note)
            if outcome.error is not None:
                if not repeat:
                    print(f"jobpoll: error: {outcome.error.line()}", file=sys.stderr)
            elif outcome.job is not None:
                printer.emit(outcome.job)
        printer.close()
    finally:
        report.finish()
    return report.exit_code(exit_status=exit_status)
