"""`jobpoll download`: look jobs up once and save the outputs of the finished ones."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from jobpoll.commands.status import JOBS_HELP
from jobpoll.context import app_context

if TYPE_CHECKING:
    from jobpoll.context import AppContext
    from jobpoll.engine.download import Saved
    from jobpoll.engine.names import Planned
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
    from jobpoll.engine.download import prepare_directory
    from jobpoll.engine.names import check_template, check_types
    from jobpoll.exits import combine
    from jobpoll.targets import gather

    app = app_context(ctx)
    kinds = check_types(types)
    template = check_template(name) if name is not None else None
    directory = prepare_directory(output_dir)
    gathered = gather(app.config(), jobs, provider, warn=app.warn, stdin=sys.stdin)

    from jobpoll.engine.lookup import lookup_all
    from jobpoll.http import SyncHttp

    with SyncHttp(verbose=app.verbose) as http:
        outcomes = {o.ref: o for o in lookup_all(http, gathered.targets)} if gathered.targets else {}
        codes, answered, plans = _settle_all(app, gathered, outcomes, kinds, template)
        if gathered.history is not None:
            gathered.history.record([job for _, job in answered if job is not None])
        saved = _save(app, directory, plans, retries=retries, renew=_renewer(http, gathered))
    _print(answered, saved, json_=json_)
    for result in saved.values():
        for error in result.errors:
            print(f"jobpoll: error: {error.line()}", file=sys.stderr)
            codes.append(error.exit_code)
    raise typer.Exit(int(combine(codes)))


def _settle_all(app: "AppContext", gathered: Any, outcomes: dict[str, Any], kinds: tuple[str, ...],
                template: str | None) -> tuple[list[int], "list[tuple[str, Job | None]]", "dict[str, list[Planned]]"]:
    """Per argument its job (or None, its error reported); per job what to save."""
    from jobpoll.engine.lookup import Outcome

    codes: list[int] = []
    answered: list[tuple[str, Job | None]] = []  # per argument: its ref and job (None: no answer)
    plans: dict[str, list[Planned]] = {}  # per job, once however often it is named
    for ref in gathered.refs:
        outcome = outcomes.get(ref.ref) or Outcome(ref.ref, error=gathered.errors[ref])
        job = _settled(app, outcome, codes)
        answered.append((ref.ref, job))
        if job is not None and ref.ref not in plans:
            plans[ref.ref] = _plan(job, kinds, template, codes)
    return codes, answered, plans


def _renewer(http: Any, gathered: Any) -> Any:
    """A fresh lookup of a job (its follow-up included), for a pre-signed link the
    storage refused before its stated expiry: Reelbot's download endpoint is asked
    once more (of its 30 an hour), and the new link goes to the history."""
    import asyncio

    from jobpoll.engine.lookup import lookup

    endpoints = {t.ref.ref: t.endpoint for t in gathered.targets}

    async def renew(job: "Job") -> "Job":
        fresh = (await asyncio.to_thread(lookup, http, endpoints[job.ref], job.id)).job
        if gathered.history is not None:
            gathered.history.record([fresh])
        return fresh

    return renew


def _settled(app: "AppContext", outcome: Any, codes: list[int]) -> "Job | None":
    """The job to save outputs of, or None; errors and unfinished jobs reported.
    (What the lookup shows, a forgotten job's stored ending included, is the
    engine's: engine/lookup.py.)"""
    from jobpoll.exits import ExitCode
    from jobpoll.model import BAD_ENDINGS

    for note in outcome.warnings:
        app.warn(note)
    if outcome.error is not None:
        print(f"jobpoll: error: {outcome.error.line()}", file=sys.stderr)
        codes.append(outcome.error.exit_code)
        return None
    job, ref = outcome.job, outcome.ref
    assert job is not None
    if job.state in BAD_ENDINGS:
        why = f": {job.error.message}" if job.error and job.error.message else ""
        _error(f"{ref}: the job ended {job.state.value}{why}; nothing to save")
        codes.append(ExitCode.JOB_FAILED)
    elif not job.terminal:
        _error(f"{ref}: not finished yet ({job.state.value}); nothing to save "
               f"(wait for it: jobpoll watch --download DIR {ref})")
        codes.append(ExitCode.UNFINISHED)
    return job


def _plan(job: "Job", kinds: tuple[str, ...], template: str | None, codes: list[int]) -> "list[Planned]":
    from jobpoll.engine.names import plan_job
    from jobpoll.errors import JobpollError

    try:
        return plan_job(job, kinds, template)
    except JobpollError as exc:
        print(f"jobpoll: error: {exc.line()}", file=sys.stderr)
        codes.append(exc.exit_code)
        return []


def _save(app: "AppContext", directory: Any, plans: "dict[str, list[Planned]]", *,
          retries: int, renew: Any = None) -> "dict[str, Saved]":
    """Every planned file, at once; the result per job."""
    from jobpoll.engine.download import Saved

    if not any(plans.values()):
        return {ref: Saved() for ref in plans}
    import asyncio

    from jobpoll.engine.download import Downloader, NoProgress, open_client, save_all

    bars: Any = NoProgress()
    if sys.stderr.isatty() and not app.quiet:
        from jobpoll.progress_bars import FileBars

        bars = FileBars(sys.stderr, color=app.color)
    log = (lambda line: print(line, file=sys.stderr)) if app.verbose else None
    refs = list(plans)

    async def run() -> list[Saved]:
        async with open_client() as client:
            downloader = Downloader(client, directory, retries=retries, progress=bars, log=log, renew=renew)
            with bars:
                return await save_all(downloader, [plans[r] for r in refs])

    return dict(zip(refs, asyncio.run(run())))


def _print(answered: "list[tuple[str, Job | None]]", saved: "dict[str, Saved]", *, json_: bool) -> None:
    from jobpoll.render import job_record, json_line

    out = sys.stdout
    for ref, job in answered:
        if job is None:
            continue
        files = saved[ref].files if ref in saved else []
        if json_:
            out.write(json_line(job_record(job, extra={"files": files})) + "\n")
        else:
            out.writelines(f"{path}\n" for path in files)
    out.flush()


def _error(message: str) -> None:
    from jobpoll.errors import JobpollError

    print(f"jobpoll: error: {JobpollError(message).line()}", file=sys.stderr)
