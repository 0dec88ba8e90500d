"""`jobpoll list`: jobs from the providers' APIs (json2video, Muvi) and from the
local history (Pictory, Reelbot), newest first."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from jobpoll.context import app_context
from jobpoll.model import STATE_NAMES

STATE_HELP = f"Only jobs in this state: {', '.join(STATE_NAMES)}."
WHEN_HELP = "an ISO date (2026-11-01), a datetime (2026-11-01T09:30:00Z; UTC unless an offset is given) or a span back from now (7d, 12h, 90m, 2w)"


def list_command(
    ctx: typer.Context,
    provider: Optional[List[str]] = typer.Option(
        None, "-p", "--provider", metavar="PROVIDER",
        help="List only this provider (repeatable; default: every provider).",
    ),
    since: Optional[str] = typer.Option(
        None, "--since", metavar="WHEN",
        help=f"Jobs created at or after WHEN: {WHEN_HELP}. json2video lists the last 30 days unless given.",
    ),
    until: Optional[str] = typer.Option(
        None, "--until", metavar="WHEN",
        help=f"Jobs created at or before WHEN (a date includes the whole day): {WHEN_HELP}.",
    ),
    state: Optional[str] = typer.Option(None, "--state", metavar="STATE", help=STATE_HELP),
    limit: Optional[int] = typer.Option(None, "--limit", metavar="N", min=1, help="At most N jobs, the newest."),
    json_: bool = typer.Option(False, "--json", help="One JSON object per job (NDJSON), with \"source\"."),
    field: Optional[str] = typer.Option(None, "--field", metavar="NAME", help="Print only this job field, one line per job."),
) -> None:
    """List jobs, newest first: json2video and Muvi from their APIs, Pictory and
    Reelbot from jobpoll's local history of jobs that `status` and `watch` have
    looked up. Rows say where they came from (source: api or history)."""
    from jobpoll.exits import combine
    from jobpoll.listing import ListQuery, list_report, parse_state, parse_when
    from jobpoll.model import utcnow
    from jobpoll.providers import get_provider, names as provider_names
    from jobpoll.render import EXTRA_FIELDS, JobPrinter, Mode, check_field, choose_mode
    from jobpoll.errors import UsageError, clip_line, inert

    app = app_context(ctx)
    check_field(field, extra=EXTRA_FIELDS)
    chosen = {get_provider(p).name for p in provider or ()}
    every = provider_names()
    names = [n for n in every if n in chosen] if chosen else every
    now = utcnow()
    since_at = parse_when(since, what="--since", now=now) if since is not None else None
    until_at = parse_when(until, what="--until", now=now, end_of_day=True) if until is not None else None
    if since_at and until_at and since_at > until_at:
        raise UsageError(f"--since ({since}) is after --until ({until})")
    query = ListQuery(
        providers=names, chosen=bool(chosen), since=since_at, until=until_at,
        state=parse_state(state), limit=limit,
    )
    config = app.config()
    mode = choose_mode(json_=json_, field=field)
    result = list_report(query, config=config, warn=app.warn, verbose=app.verbose, now=now)

    if not app.quiet:
        for note in result.notes:
            print(clip_line(f"jobpoll: note: {inert(note)}"), file=sys.stderr)
    for error in result.errors:
        print(f"jobpoll: error: {error.line()}", file=sys.stderr)

    printer = JobPrinter(mode, field=field, color=app.color, overview=True)
    for row in result.rows:
        first_seen = row.when if row.job.created_at is None else None
        printer.emit(row.job, extra={"source": row.source}, first_seen=first_seen)
    printer.close()
    if mode is Mode.TABLE and not result.rows and not app.quiet:
        print("jobpoll: no jobs found", file=sys.stderr)
    raise typer.Exit(int(combine(e.exit_code for e in result.errors)))
