"""`jobpoll download`: look jobs up once and save the outputs of the finished ones."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, List, Optional

import typer

from jobpoll.commands.wrappers import JOBS_HELP
from jobpoll.context import app_context

if TYPE_CHECKING:
    from jobpoll.model import Job

TYPE_HELP = "Output type to save: video (default), audio, image, subtitles, thumbnail, text, page, or all; repeatable."
NAME_HELP = ("File name template: {provider} {id} {type} {index} {ext}; default {provider}-{id}{ext} "
             "for one file, {provider}-{id}-{type}-{index}{ext} for several.")
RETRIES_HELP = "Attempts in a row that bring no byte, tolerated per file before it fails (backing off: ~30 s for 5)."


def download_command(
    ctx: typer.Context,
    jobs: Optional[List[str]] = typer.Argument(None, metavar="JOB...", help=JOBS_HELP, show_default=False),
    output_dir: str = typer.Option(".", "-o", "--output-dir", metavar="DIR", help="Directory to save into (made if missing)."),
    types: Optional[List[str]] = typer.Option(None, "--type", metavar="TYPE", help=TYPE_HELP, show_default=False),
    name: Optional[str] = typer.Option(None, "--name", metavar="TEMPLATE", help=NAME_HELP, show_default=False),
    json_: bool = typer.Option(False, "--json", help="One JSON job object per job, with a 'files' array."),
    retries: int = typer.Option(5, "--retries", metavar="N", min=0, help=RETRIES_HELP),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", metavar="PROVIDER", help="Provider for bare IDs."),
) -> None:
    """Save the outputs of finished jobs; print each saved file's path."""
    from jobpoll.engine.saving import download_jobs
    from jobpoll.exits import combine
    from jobpoll.render import job_line

    app = app_context(ctx)
    bars = None
    if sys.stderr.isatty() and not app.quiet:
        from jobpoll.progress_bars import FileBars

        bars = FileBars(sys.stderr, color=app.color)
    log = (lambda line: print(line, file=sys.stderr)) if app.verbose else None
    report = download_jobs(jobs, output_dir, config=app.config(), warn=app.warn, types=types, template=name,
                           retries=retries, provider=provider, stdin=sys.stdin, verbose=app.verbose,
                           progress=bars, log=log)
    codes: list[int] = []
    for outcome in report.outcomes:
        for note in outcome.warnings:
            app.warn(note)
        if outcome.error is not None:
            _error(outcome.error.line())
            codes.append(outcome.error.exit_code)
        elif outcome.job is not None:
            codes.extend(_state_codes(outcome.ref, outcome.job))
    for done in report.saved.values():
        for error in done.errors:
            _error(error.line())
            codes.append(error.exit_code)
    out = sys.stdout
    for outcome in report.outcomes:
        if outcome.job is None or outcome.error is not None:
            continue
        files = report.saved[outcome.job.ref].files
        if json_:
            out.write(job_line(outcome.job, {"files": files}) + "\n")
        else:
            out.writelines(f"{path}\n" for path in files)
    out.flush()
    raise typer.Exit(int(combine(codes)))


def _state_codes(ref: str, job: "Job") -> list[int]:
    """A job that cannot be saved because of its state: its line and exit code."""
    from jobpoll.exits import ExitCode
    from jobpoll.model import BAD_ENDINGS

    if job.state in BAD_ENDINGS:
        why = f": {job.error.message}" if job.error and job.error.message else ""
        _error(f"{ref}: the job ended {job.state.value}{why}; nothing to save")
        return [ExitCode.JOB_FAILED]
    if not job.terminal:
        _error(f"{ref}: not finished yet ({job.state.value}); nothing to save "
               f"(wait for it: jobpoll watch --download DIR {ref})")
        return [ExitCode.UNFINISHED]
    return []


def _error(message: str) -> None:
    from jobpoll.errors import JobpollError

    print(f"jobpoll: error: {JobpollError(message).line()}", file=sys.stderr)
