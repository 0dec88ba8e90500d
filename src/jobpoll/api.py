"""The Python API behind `import jobpoll`: the same engine the commands use.

`jobpoll/__init__.py` exposes these names lazily (so `import jobpoll` and
`jobpoll --version` stay cheap). The commands run the same engine sessions
(engine/session.py, listing.list_report) and only render what comes back.

Errors are exceptions of `jobpoll.JobpollError`'s family, each with the
`exit_code` the command line would exit with. Where many jobs are looked at
once, one job's error need not cost the others: `return_exceptions=True` (as in
`asyncio.gather`) puts the error in that job's place instead of raising it.
"""

from __future__ import annotations

import time
from datetime import datetime
from os import PathLike
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Iterator, Union

from jobpoll.errors import JobpollError, UnfinishedError
from jobpoll.model import Job, State

if TYPE_CHECKING:
    from jobpoll.config import Config
    from jobpoll.engine.saving import Downloaded
    from jobpoll.engine.session import WatchPlan
    from jobpoll.engine.updates import Update
    from jobpoll.refs import JobRef

#: A job reference ("muvi:job_abc", or a bare ID with `provider=`), a `Job`, or many.
Refs = Union[str, Job, "JobRef", Iterable[Union[str, Job, "JobRef"]]]
ConfigLike = Union["Config", str, "PathLike[str]", None]
Warn = Callable[[str], None]


# ---- the shared groundwork --------------------------------------------------------------


def ref_texts(refs: Refs) -> list[str]:
    """References as text: a single one, or each of an iterable (Jobs and JobRefs
    stand for their `provider:id`)."""
    if isinstance(refs, (str, Job)) or hasattr(refs, "ref"):
        refs = [refs]  # type: ignore[list-item]
    texts = []
    for ref in refs:  # type: ignore[union-attr]
        if isinstance(ref, str):
            texts.append(ref)
        elif isinstance(getattr(ref, "ref", None), str):
            texts.append(ref.ref)  # type: ignore[union-attr]
        else:
            from jobpoll.errors import UsageError

            raise UsageError(f"{ref!r} is not a job reference (PROVIDER:ID)")
    return texts


def resolve_config(config: ConfigLike, warn: Warn) -> "Config":
    """A loaded Config as is; a path loaded; None: JOBPOLL_CONFIG or the default file."""
    from jobpoll.config import Config, load_config

    if isinstance(config, Config):
        return config
    return load_config(config, warn=warn)


def library_warn(on_warning: Warn | None) -> Warn:
    """Where a library call's warnings go: `on_warning`, else the "jobpoll" logger."""
    if on_warning is not None:
        return on_warning
    import logging

    return logging.getLogger("jobpoll").warning


# ---- status -----------------------------------------------------------------------------


def status(
    refs: Refs,
    *,
    provider: str | None = None,
    config: ConfigLike = None,
    history: bool = True,
    return_exceptions: bool = False,
    on_warning: Warn | None = None,
) -> "list[Job] | list[Job | JobpollError]":
    """Where each job stands now: one `Job` per reference, in the order given.

    Every job is looked up at once; transient failures are retried twice and a
    short 429 is waited out. The first job that cannot be looked up raises its
    error (after every lookup has ended); with `return_exceptions=True` that
    job's error takes its place in the list instead. A bad reference raises
    `UsageError` before any request. `history=False` neither reads nor writes
    jobpoll's local job history (which otherwise shows jobs a provider has
    forgotten, and saves Reelbot's download link between calls)."""
    texts = ref_texts(refs)
    if not texts:
        return []
    warn = library_warn(on_warning)
    loaded = resolve_config(config, warn)
    from jobpoll.engine.session import check

    report = check(texts, config=loaded, warn=warn, provider=provider, use_history=history)
    try:
        for outcome in report.outcomes:
            for note in outcome.warnings:
                warn(note)
    finally:
        report.finish()
    by_ref = {o.ref: o for o in report.outcomes}
    results: list[Job | JobpollError] = []
    for text in texts:
        outcome = by_ref[_parse(text, provider, loaded).ref]
        item = outcome.error if outcome.error is not None else outcome.job
        assert item is not None
        if isinstance(item, JobpollError) and not return_exceptions:
            raise item
        results.append(item)
    return results


def _parse(text: str, provider: str | None, config: "Config") -> "JobRef":
    from jobpoll.refs import parse_ref

    if provider:
        from jobpoll.providers import get_provider

        provider = get_provider(provider).name
    return parse_ref(text, provider_opt=provider, config=config)


# ---- download ---------------------------------------------------------------------------


def download(
    refs: Refs,
    directory: "str | PathLike[str]" = ".",
    *,
    types: Iterable[str] = ("video",),
    name: str | None = None,
    retries: int = 5,
    provider: str | None = None,
    config: ConfigLike = None,
    history: bool = True,
    return_exceptions: bool = False,
    on_warning: Warn | None = None,
) -> "list[Downloaded] | list[Downloaded | JobpollError]":
    """Save the outputs of each finished job into `directory` (made if missing), as
    `jobpoll download` does: one `Downloaded` (`job`, `files`: the saved paths,
    `errors`) per reference, in order. A job not done yet, or failed, has no files
    (look at `job.state`). `types`: output types (`"video"`, `"subtitles"`, ...,
    or `"all"`); `name`: a file name template (`{provider}`, `{id}`, `{type}`,
    `{index}`, `{ext}`). Files are written as NAME.part and renamed when whole; a
    file already saved is not fetched again; output URLs get no credentials.

    A job that cannot be looked up, or whose output could not be saved (after
    `retries` attempts in a row that brought nothing; `DownloadError`, exit code
    6), or that has no output of the wanted types (`NotFoundError`), raises its
    (first) error after every job has been dealt with; with `return_exceptions=True`
    the error takes that job's place instead (a Downloaded's `errors` holds all).
    Bad references, options, or a directory that cannot take files raise before
    any request."""
    from jobpoll.engine.saving import download_jobs

    texts = ref_texts(refs)
    if not texts:
        return []
    warn = library_warn(on_warning)
    loaded = resolve_config(config, warn)
    report = download_jobs(texts, directory, config=loaded, warn=warn, types=types, template=name,
                           retries=retries, provider=provider, use_history=history)
    by_ref = {o.ref: o for o in report.outcomes}
    for outcome in by_ref.values():
        for note in outcome.warnings:
            warn(note)
    results: list[Downloaded | JobpollError] = []
    for text in texts:
        outcome = by_ref[_parse(text, provider, loaded).ref]
        item: Downloaded | JobpollError
        if outcome.error is not None:
            item = outcome.error
        else:
            assert outcome.job is not None
            done = report.saved[outcome.job.ref]
            item = done.errors[0] if done.errors else done
        if isinstance(item, JobpollError) and not return_exceptions:
            raise item
        results.append(item)
    return results


# ---- watch ---------------------------------------------------------------------------------


def awatch(
    refs: Refs,
    *,
    interval: float | None = None,
    max_interval: float | None = None,
    timeout: float | None = None,
    retries: int = 5,
    fail_fast: bool = False,
    provider: str | None = None,
    config: ConfigLike = None,
    history: bool = True,
    return_exceptions: bool = False,
    on_warning: Warn | None = None,
) -> "AsyncIterator[Job | JobpollError]":
    """`async for job in jobpoll.awatch(refs)`: like `watch()`, on the caller's
    event loop."""
    plan = _watch_plan(refs, interval, max_interval, timeout, retries, fail_fast,
                       provider, config, history, on_warning)
    return _stream(plan, return_exceptions, library_warn(on_warning))


def watch(
    refs: Refs,
    *,
    interval: float | None = None,
    max_interval: float | None = None,
    timeout: float | None = None,
    retries: int = 5,
    fail_fast: bool = False,
    provider: str | None = None,
    config: ConfigLike = None,
    history: bool = True,
    return_exceptions: bool = False,
    on_warning: Warn | None = None,
) -> "Iterator[Job | JobpollError]":
    """Poll jobs until each finishes, yielding a `Job` whenever one is first seen or
    changes; the last one yielded for each job is final (`job.terminal`).

    Intervals are seconds: `interval` is the provider's interval (default: the
    configured one, else the provider's advice) and, given, the shortest wait
    between looks at a job; no two looks are further apart than `max_interval`
    (default 60). When to look follows the README ("How often jobpoll looks");
    `timeout` is the overall
    deadline. A job that cannot be watched to its end (unknown, no key, the
    provider kept failing `retries` times in a row) raises its error; with
    `return_exceptions=True` the error is yielded in its place and the other jobs
    go on. When `timeout` passes, `UnfinishedError` (exit code 5) is raised for
    the jobs still unfinished (yielded per job with `return_exceptions=True`).
    `fail_fast=True` stops at the first job that ends badly. Bad references raise
    `UsageError` at the call, before any request."""
    plan = _watch_plan(refs, interval, max_interval, timeout, retries, fail_fast,
                       provider, config, history, on_warning)
    return _iterate(_stream(plan, return_exceptions, library_warn(on_warning)))


def _watch_plan(refs, interval, max_interval, timeout, retries, fail_fast, provider, config, history,
                on_warning) -> "WatchPlan":
    from jobpoll.engine.updates import PollOptions
    from jobpoll.errors import UsageError

    started = time.monotonic()
    for name, value in (("interval", interval), ("max_interval", max_interval), ("timeout", timeout)):
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be more than 0 seconds (got {value!r})")
    options = PollOptions(
        interval=interval,
        max_interval=max_interval if max_interval is not None else PollOptions.max_interval,
        deadline=started + timeout if timeout is not None else None,
        retries=retries,
        fail_fast=fail_fast,
        heartbeat=0,
    )
    warn = library_warn(on_warning)
    texts = ref_texts(refs)
    if not texts:
        raise UsageError("no job given")
    from jobpoll.engine.session import plan_watch

    return plan_watch(texts, options, config=resolve_config(config, warn), warn=warn,
                      provider=provider, use_history=history)


async def _stream(plan: "WatchPlan", return_exceptions: bool, warn: Warn) -> "AsyncIterator[Job | JobpollError]":
    import asyncio
    from collections import deque

    from jobpoll.engine.updates import Kind, Stop

    try:
        for error in plan.gathered.errors.values():  # no key: nothing to watch
            if not return_exceptions:
                raise error
            yield error
        if not plan.gathered.targets:
            return
    except BaseException:
        plan.close()
        raise
    pending: deque = deque()
    ready = asyncio.Event()

    def on_update(update: "Update") -> None:
        pending.append(update)
        ready.set()

    task = asyncio.ensure_future(plan.run(on_update))
    try:
        while True:
            while pending:
                update = pending.popleft()
                if update.kind is Kind.WARNING and update.text:
                    warn(update.text)
                elif update.kind is Kind.ERROR and update.error is not None:
                    if not return_exceptions:
                        raise update.error
                    yield update.error
                elif update.new_state is not None:
                    yield update.new_state
            if task.done():
                break
            ready.clear()
            waiter = asyncio.ensure_future(ready.wait())
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        stop, results = task.result()
        if stop is Stop.DEADLINE:
            for result in results:
                if not result.finished:
                    error = UnfinishedError("not finished when the timeout passed", job=result.ref.ref)
                    if not return_exceptions:
                        raise error
                    yield error
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _iterate(stream: "AsyncIterator[Job | JobpollError]") -> "Iterator[Job | JobpollError]":
    """An async iterator driven from plain code, on an event loop of its own; on a
    thread of its own where this thread already runs a loop (a notebook cell)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _drive(stream)
    return _drive_in_thread(stream)


def _drive(stream: "AsyncIterator[Job | JobpollError]") -> "Iterator[Job | JobpollError]":
    import asyncio

    from jobpoll.eventloop import new_event_loop

    loop = new_event_loop()
    try:
        while True:
            try:
                item = loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        try:
            loop.run_until_complete(stream.aclose())  # type: ignore[attr-defined]
        finally:
            loop.close()


def _drive_in_thread(stream: "AsyncIterator[Job | JobpollError]") -> "Iterator[Job | JobpollError]":
    import queue
    import threading

    handoff: "queue.Queue[tuple[bool, Any]]" = queue.Queue(maxsize=1)
    abandoned = threading.Event()

    def offer(item: "tuple[bool, Any]") -> bool:
        while not abandoned.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        items = _drive(stream)
        try:
            for item in items:
                if not offer((False, item)):
                    return
            offer((True, None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            offer((True, exc))
        finally:
            items.close()

    threading.Thread(target=work, name="jobpoll-watch", daemon=True).start()
    try:
        while True:
            ended, item = handoff.get()
            if ended:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        abandoned.set()


# ---- list ------------------------------------------------------------------------------------


def list_jobs(
    *,
    provider: str | Iterable[str] | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    state: State | str | None = None,
    limit: int | None = None,
    config: ConfigLike = None,
    history: bool = True,
    on_warning: Warn | None = None,
) -> list[Job]:
    """Jobs, newest first: from the APIs of the providers that can list, and from
    the local history for the others (`history=False`: APIs only, nothing
    recorded). `provider` is one name or several (default: every provider; a
    provider without a key is skipped with a warning unless named). `since` and
    `until` take datetimes (naive ones are UTC) or what `--since`/`--until` take
    ("7d", "2026-11-01"). If a provider's listing fails, the others are still
    listed and then the first error is raised."""
    from jobpoll.listing import ListQuery, list_report, parse_state, parse_when
    from jobpoll.model import utcnow
    from jobpoll.providers import get_provider, names as provider_names

    warn = library_warn(on_warning)
    loaded = resolve_config(config, warn)  # first: user definitions live beside the config file
    names = [provider] if isinstance(provider, str) else list(provider or ())
    chosen = {get_provider(p).name for p in names}
    every = provider_names()
    now = utcnow()
    query = ListQuery(
        providers=[n for n in every if n in chosen] if chosen else every,
        chosen=bool(chosen),
        since=_moment(since, "since", now, end_of_day=False, parse=parse_when),
        until=_moment(until, "until", now, end_of_day=True, parse=parse_when),
        state=state if isinstance(state, State) or state is None else parse_state(state),
        limit=limit,
    )
    result = list_report(query, config=loaded, warn=warn, use_history=history, now=now)
    for note in result.notes:
        warn(note)
    if result.errors:
        raise result.errors[0]
    return [row.job for row in result.rows]


def _moment(value: datetime | str | None, what: str, now: datetime, *, end_of_day: bool,
            parse: Callable[..., datetime]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        from datetime import timezone

        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return parse(value, what=what, now=now, end_of_day=end_of_day)
