"""One-shot lookups for `status`: every job at once, each retried a little."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, TypeVar

from jobpoll.errors import JobpollError, NotFoundError, RateLimitedError, UnavailableError
from jobpoll.model import Job, State, parse_time, utcnow
from jobpoll.retry import backoff_delay

if TYPE_CHECKING:
    from jobpoll.config import Endpoint
    from jobpoll.http import SyncHttp
    from jobpoll.targets import Target

RETRIES = 2  # a one-shot lookup should answer quickly; `watch` is the patient one
MAX_RATE_WAIT = 15.0  # seconds a status call will wait out a 429 before giving up
URL_MARGIN = timedelta(minutes=2)  # a pre-signed URL this close to expiry is fetched anew

T = TypeVar("T")


@dataclass
class Outcome:
    """A job's lookup: the job, or the error that stopped it."""

    ref: str
    job: Job | None = None
    error: JobpollError | None = None


def reuse_known_output(job: Job, previous: Job | None, now: datetime) -> Job:
    """A finished job keeps an output URL the history already holds while it is
    valid, so Reelbot's download endpoint (30 calls an hour) is asked once a job."""
    if previous is None or job.state is not State.DONE or job.url or not previous.url:
        return job
    expires = parse_time(previous.extra.get("url_expires_at"))
    if expires is not None and expires <= now + URL_MARGIN:
        return job
    return job.with_(url=previous.url, outputs=previous.outputs, extra={**previous.extra, **job.extra})


def with_retries(
    attempt: Callable[[], T],
    *,
    retries: int = RETRIES,
    max_rate_wait: float = MAX_RATE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt()`, tried again after a transient failure (network, 5xx, unreadable
    answer) up to `retries` times with backoff; a 429 is waited out when shorter
    than `max_rate_wait` seconds."""
    failures = 0
    while True:
        try:
            return attempt()
        except RateLimitedError as exc:
            wait = exc.retry_at - time.time()
            if wait > max_rate_wait:
                raise
            sleep(max(0.0, wait))
        except UnavailableError:
            failures += 1
            if failures > retries:
                raise
            sleep(backoff_delay(failures))


def forgotten_ending(previous: Job | None, job: Job | None, error: JobpollError | None) -> str | None:
    """Why the history's final state stands for a job the provider has forgotten,
    or None. Providers clean finished jobs after a while (a 404; Pictory's
    "cleaned"), but the history still knows how the job ended and its outputs."""
    if previous is None or not previous.terminal or previous.state is State.EXPIRED:
        return None
    if isinstance(error, NotFoundError):
        reason = "the provider no longer knows this job"
    elif error is None and job is not None and job.state is State.EXPIRED:
        reason = f"the provider has removed this job's data (status {job.status!r})"
    else:
        return None
    return f"{reason}; showing its last known state ({previous.state.value}, checked {previous.checked_at})"


def lookup(
    http: "SyncHttp",
    endpoint: "Endpoint",
    job_id: str,
    *,
    previous: Job | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """The job as the provider tells it now, with the follow-up a finished job needs.
    Transient failures are retried RETRIES times; a 429 is waited out when short."""
    provider = endpoint.provider

    def attempt() -> Job:
        answer = http.get(endpoint, provider.status_request(job_id))
        now = utcnow()
        job = reuse_known_output(provider.parse_status(job_id, answer, now), previous, now)
        follow = provider.followup_request(job)
        if follow is not None:
            job = provider.apply_followup(job, http.get(endpoint, follow), utcnow())
        return job

    return with_retries(attempt, sleep=sleep)


def lookup_all(http: "SyncHttp", targets: "list[Target]", *, workers: int = 16) -> list[Outcome]:
    """Look every target up at once; outcomes in the given order."""

    def one(target: "Target") -> Outcome:
        ref = target.ref.ref
        try:
            return Outcome(ref, job=lookup(http, target.endpoint, target.ref.id, previous=target.previous))
        except JobpollError as exc:
            return Outcome(ref, error=exc.for_job(ref))

    if len(targets) == 1:
        return [one(targets[0])]
    # Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the command ends at once
    # instead of joining workers that sit in a 429 wait or a slow read.
    import queue
    import threading

    results: list[Outcome | None] = [None] * len(targets)
    pending: "queue.SimpleQueue[int]" = queue.SimpleQueue()
    for index in range(len(targets)):
        pending.put(index)

    def worker() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            results[index] = one(targets[index])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(targets)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]
