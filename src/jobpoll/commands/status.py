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
    from jobpoll.config import require_key, resolve_endpoint
    from jobpoll.errors import JobpollError
    from jobpoll.lookup import forgotten_ending
    from jobpoll.history import open_history
    from jobpoll.model import BAD_ENDINGS, State
    from jobpoll.refs import resolve_refs
    from jobpoll.render import JobPrinter, Mode, check_field, choose_mode

    app = app_context(ctx)
    config = app.config()
    if provider:
        from jobpoll.providers import get_provider

        provider = get_provider(provider).name
    check_field(field)
    refs = resolve_refs(jobs or [], provider_opt=provider, config=config, stdin=sys.stdin)
    mode = Mode.JSON if raw and not field else choose_mode(json_=json_, field=field)

    history = open_history(app.warn)
    known = history.get_many([(r.provider, r.id) for r in refs]) if history else {}

    endpoints = {name: resolve_endpoint(config, name) for name in {r.provider for r in refs}}
    codes: list[int] = []
    targets, errors = [], {}
    for ref in refs:
        try:
            require_key(endpoints[ref.provider])
        except JobpollError as exc:
            errors[ref.ref] = exc.for_job(ref.ref)
            continue
        targets.append((ref.ref, endpoints[ref.provider], ref.id, known.get((ref.provider, ref.id))))

    outcomes = {}
    if targets:
        from jobpoll.http import SyncHttp
        from jobpoll.lookup import lookup_all

        with SyncHttp(verbose=app.verbose) as http:
            outcomes = {o.ref: o for o in lookup_all(http, targets)}

    printer = JobPrinter(
        mode, field=field, raw=raw, color=app.color,
        secrets=[e.key for e in endpoints.values() if e.key],
    )
    found = []
    for ref in refs:
        outcome = outcomes.get(ref.ref)
        error = errors.get(ref.ref) or (outcome.error if outcome else None)
        job = outcome.job if outcome else None
        previous = known.get((ref.provider, ref.id))
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
    if history is not None:
        history.record(found)
    raise typer.Exit(int(combine(codes)))
