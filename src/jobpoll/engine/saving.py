"""`download`'s run of the engine, for `jobpoll download` and `jobpoll.download()`:
look every job up once (engine/lookup.py's rules), record what was found, and
save the outputs of the finished ones (engine/download.py), all files at once
over a bounded number of connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobpoll.errors import JobpollError

if TYPE_CHECKING:
    from jobpoll.config import Config
    from jobpoll.engine.lookup import Outcome
    from jobpoll.engine.names import Planned
    from jobpoll.model import Job

Warn = Callable[[str], None]


@dataclass
class Downloaded:
    """A job and the files saved of it (paths as strings, in the job's output
    order). `errors`: outputs that could not be saved (exit 6), or the lack of one
    of the wanted types (exit 4). A job not done has no files and no errors."""

    job: "Job"
    files: list[str] = field(default_factory=list)
    errors: list[JobpollError] = field(default_factory=list)


@dataclass
class DownloadReport:
    outcomes: "list[Outcome]"  # per reference, in order
    saved: dict[str, Downloaded]  # per answered job ("provider:id")


def download_jobs(
    refs: list[str] | None,
    directory: str | Path = ".",
    *,
    config: "Config",
    warn: Warn,
    types: Any = None,
    template: str | None = None,
    retries: int = 5,
    provider: str | None = None,
    stdin: Any = None,
    verbose: bool = False,
    use_history: bool = True,
    progress: Any = None,
    log: Callable[[str], None] | None = None,
) -> DownloadReport:
    """Bad options or references raise before any request (UsageError), as does an
    output directory that cannot take files (DownloadError); every other problem
    is an outcome's error or a Downloaded's."""
    from jobpoll.engine.download import prepare_directory
    from jobpoll.engine.lookup import Outcome, lookup_all
    from jobpoll.engine.names import check_template, check_types
    from jobpoll.http import SyncHttp
    from jobpoll.targets import gather

    kinds = check_types(types)
    if template is not None:
        check_template(template)
    folder = prepare_directory(directory)
    gathered = gather(config, refs, provider, warn=warn, stdin=stdin, use_history=use_history)
    try:
        with SyncHttp(verbose=verbose) as http:
            found = {o.ref: o for o in lookup_all(http, gathered.targets)} if gathered.targets else {}
            outcomes = [found.get(r.ref) or Outcome(r.ref, error=gathered.errors[r]) for r in gathered.refs]
            if gathered.history is not None:
                gathered.history.record([o.job for o in outcomes if o.job is not None and o.error is None])
            saved, plans = _plans(outcomes, kinds, template)
            _run(folder, saved, plans, retries=retries, progress=progress, log=log,
                 renew=_renewer(http, gathered))
    finally:
        if gathered.history is not None:
            gathered.history.close()
    return DownloadReport(outcomes, saved)


def _plans(outcomes: "list[Outcome]", kinds: tuple[str, ...], template: str | None
           ) -> "tuple[dict[str, Downloaded], dict[str, list[Planned]]]":
    """Per answered job its result (to fill in) and what to save, once however
    often the job is named."""
    from jobpoll.engine.names import plan_job

    saved: dict[str, Downloaded] = {}
    plans: dict[str, list[Planned]] = {}
    for outcome in outcomes:
        job = outcome.job
        if job is None or outcome.error is not None or job.ref in saved:
            continue
        saved[job.ref] = Downloaded(job)
        try:
            plans[job.ref] = plan_job(job, kinds, template)
        except JobpollError as exc:
            saved[job.ref].errors.append(exc)
    return saved, plans


def _run(folder: Path, saved: dict[str, Downloaded], plans: "dict[str, list[Planned]]", *,
         retries: int, progress: Any, log: Any, renew: Any) -> None:
    if not any(plans.values()):
        return
    import asyncio

    from jobpoll.engine.download import Downloader, NoProgress, open_client, save_all

    bars = progress or NoProgress()
    refs = [ref for ref, items in plans.items() if items]

    async def run() -> list[Any]:
        async with open_client() as client:
            downloader = Downloader(client, folder, retries=retries, progress=bars, log=log, renew=renew)
            with bars:
                return await save_all(downloader, [plans[r] for r in refs])

    for ref, result in zip(refs, asyncio.run(run())):
        saved[ref].files, saved[ref].errors = result.files, result.errors


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
