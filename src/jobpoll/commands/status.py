"""`jobpoll status`: one lookup per job, all at once, then exit. The engine
(engine/session.py, engine/lookup.py) decides what each lookup shows and what it means
for the exit status; this module parses, renders and exits."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from jobpoll.context import app_context

JOBS_HELP = "Job references: PROVIDER:ID or a bare ID; '-' (or none, with stdin not a terminal) reads them from stdin."


def status_command(
    ctx: typer.Context,
    jobs: Optional[List[str]] = typer.Argument(None, metavar="JOB...", help=JOBS_HELP, show_default=False),
    json_: bool = typer.Option(False, "--json", help="One JSON object per job (NDJSON)."),
    field: Optional[str] = typer.Option(None, "--field", metavar="NAME", help="Print only this job field, one line per job."),
    raw: bool = typer.Option(False, "--raw", help="Include the provider's own payload as 'raw' (implies --json)."),
    exit_status: bool = typer.Option(
        False, "--exit-status", help="Exit 1 if a job ended badly, 5 if one is still queued or running."
    ),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", metavar="PROVIDER", help="Provider for bare IDs."),
) -> None:
    """Ask where jobs stand, once, and exit."""
    from jobpoll.engine.session import check
    from jobpoll.render import JobPrinter, check_field, choose_mode

    app = app_context(ctx)
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
    raise typer.Exit(report.exit_code(exit_status=exit_status))
