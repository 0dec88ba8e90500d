"""`jobpoll history ...`: the local job history's file and upkeep."""

from __future__ import annotations

import typer

from jobpoll.context import app_context

history_app = typer.Typer(
    help="The local job history (every job status, watch and list have seen). "
    "Its file: JOBPOLL_HISTORY, else the user state directory.",
    no_args_is_help=True,
)


@history_app.command("path")
def path_command() -> None:
    """Print the history file's path (JOBPOLL_HISTORY overrides it)."""
    from jobpoll.history import history_path

    print(history_path())


@history_app.command("prune")
def prune_command(
    ctx: typer.Context,
    older_than: str = typer.Option(
        ..., "--older-than", metavar="SPAN",
        help="Forget jobs last checked longer ago than this: 90d, 2w, 12h, 30m, or seconds.",
    ),
) -> None:
    """Forget jobs last checked more than SPAN ago, so the file does not grow without end."""
    from jobpoll.errors import UnavailableError, UsageError
    from jobpoll.history import HistoryUnavailable, connect_history
    from jobpoll.durations import parse_span
    from jobpoll.model import iso_utc, utcnow

    app = app_context(ctx)
    span = parse_span(older_than, what="--older-than", plain_seconds=True)
    try:
        cutoff = utcnow() - span
    except OverflowError:  # before the year 1: a typo, not a wish to forget everything
        raise UsageError(f"--older-than {older_than} reaches back before the year 1; nothing pruned") from None
    try:
        history = connect_history(app.warn)
    except HistoryUnavailable as exc:
        raise UnavailableError(f"{exc}; nothing pruned") from None
    with history:
        removed = history.prune(cutoff)
    if removed < 0:
        raise UnavailableError("the job history could not be written; nothing pruned")
    noun = "job" if removed == 1 else "jobs"
    print(f"removed {removed} {noun} last checked before {iso_utc(cutoff)} from {history.path}")
