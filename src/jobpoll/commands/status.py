"""`jobpoll status`: one lookup per job, all at once, then exit."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from jobpoll.context import app_context
from jobpoll.exits import ExitCode, combine

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
    from jobpoll.lookup import forgotten_ending
    from jobpoll.model import BAD_ENDINGS, State
    from jobpoll.render import JobPrinter, Mode, check_field, choose_mode
    from jobpoll.targets import gather

    app = app_context(ctx)
    check_field(field)
    gathered = gather(app, jobs, provider)
    mode = Mode.JSON if raw and not field else choose_mode(json_=json_, field=field)

    outcomes = {}
    if gathered.targets:
        from jobpoll.http import SyncHttp
        from jobpoll.lookup import lookup_all

        with SyncHttp(verbose=app.verbose) as http:
            outcomes = {o.ref: o for o in lookup_all(http, gathered.targets)}

    known = {t.ref: t.previous for t in gathered.targets}
    codes: list[int] = []
    printer = JobPrinter(
        mode, field=field, raw=raw, color=app.color,
        secrets=[t.endpoint.key for t in gathered.targets if t.endpoint.key],
    )
    found = []
    for ref in gathered.refs:
        outcome = outcomes.get(ref.ref)
        error = gathered.errors.get(ref) or (outcome.error if outcome else None)
        job = outcome.job if outcome else None
        previous = known.get(ref)
        forgotten = forgotten_ending(previous, job, error)
        if forgotten:
            app.warn(f"{ref.ref}: {forgotten}")
            job, error = previous, None
        if error is not None:
            print(f"jobpoll: error: {error.line()}", file=sys.stderr)
            codes.append(error.exit_code)
            continue
        assert job is not None
        found.append(job)
        if job.state is State.UNKNOWN:
            app.warn(f"{ref.ref}: unknown status {job.status!r} from {ref.provider}; treated as not finished")
        printer.emit(job)
        if exit_status:
            if job.state in BAD_ENDINGS:
                codes.append(ExitCode.JOB_FAILED)
            elif not job.terminal:
                codes.append(ExitCode.UNFINISHED)
    printer.close()
    if gathered.history is not None:
        gathered.history.record(found)
    raise typer.Exit(int(combine(codes)))
