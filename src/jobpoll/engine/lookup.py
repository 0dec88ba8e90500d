"""What one lookup of a job means, for every caller: `status`, `watch`, `list` and
downloads all go through here, so a rule lives in one place.

The rules are written once, without I/O: `steps()` is a generator that yields the
requests a lookup needs and is sent their answers (the status request, then the
follow-up a finished job may need, e.g. Reelbot's download link), and the
functions below it decide what an error means (`classify`), what a forgotten job
shows (`settle`) and what a job says about the exit status (`job_exit_code`).
Two thin drivers run the steps: `lookup()` over the threaded client, patient for
a few seconds (one-shot `status`), and `attempt()` over the async client, once
(the watch loop schedules retries and 429 pauses itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Callable, Generator, NamedTuple, TypeVar

from jobpoll.errors import JobpollError, NotFoundError, RateLimitedError, UnavailableError
from jobpoll.exits import ExitCode
from jobpoll.model import BAD_ENDINGS, Job, State, parse_time, utcnow
from jobpoll.retry import backoff_delay

if TYPE_CHECKING:
    from jobpoll.config import Endpoint
    from jobpoll.http import AsyncHttp, SyncHttp
    from jobpoll.providers.base import Answer, Provider, Request
    from jobpoll.targets import Target

RETRIES = 2  # a one-shot lookup should answer quickly; `watch` is the patient one
MAX_RATE_WAIT = 15.0  # seconds a one-shot lookup waits out a 429 before giving up
FOLLOWUP_MAX_WAIT = 60.0  # a rate-limited follow-up the watch waits out if this short
URL_MARGIN = timedelta(minutes=2)  # a pre-signed URL this close to expiry is fetched anew

T = TypeVar("T")


# ---- the steps of one lookup (no I/O) -------------------------------------------------


class FollowupLimited(RateLimitedError):
    """The follow-up request (Reelbot's download link, 30 calls an hour) said 429
    for a short while: only this job waits, not every job of its provider."""


class Found(NamedTuple):
    job: Job
    note: str | None = None  # worth a warning: the job stands, with something missing


Steps = Generator["Request", "Answer", Found]


def steps(provider: "Provider", job_id: str, previous: Job | None, *, patience: float) -> Steps:
    """The requests one lookup makes, and the job they add up to.

    A follow-up rate limited for longer than `patience` seconds leaves the job done
    without its link (and a note saying when to ask again) rather than holding
    the caller; a shorter one raises FollowupLimited, to be waited out."""
    answer = yield provider.status_request(job_id)
    now = utcnow()
    job = reuse_known_output(provider.parse_status(job_id, answer, now), previous, now)
    follow = provider.followup_request(job)
    if follow is None:
        return Found(job)
    try:
        extra = yield follow
    except RateLimitedError as exc:
        wait = exc.retry_at - time.time()
        if wait <= patience:
            raise FollowupLimited(exc.message, retry_at=exc.retry_at, given=exc.given, job=exc.job, hint=exc.hint) from None
        return Found(job, f"{job.ref}: done, but the download link is rate limited for another "
                          f"{wait / 60:.0f} min; get it later with 'jobpoll status {job.ref}'")
    return Found(provider.apply_followup(job, extra, utcnow()))


def reuse_known_output(job: Job, previous: Job | None, now: datetime) -> Job:
    """A finished job keeps an output URL the history already holds while it is
    valid, so Reelbot's download endpoint (30 calls an hour) is asked once a job."""
    if previous is None or job.state is not State.DONE or job.url or not previous.url:
        return job
    expires = parse_time(previous.extra.get("url_expires_at"))
    if expires is not None and expires <= now + URL_MARGIN:
        return job
    return job.with_(url=previous.url, outputs=previous.outputs, extra={**previous.extra, **job.extra})


# ---- what an error means ------------------------------------------------------------------


class Failure(str, Enum):
    RATE_LIMITED = "rate_limited"  # wait until the time the provider gave; not a failure
    TRANSIENT = "transient"  # network, 5xx, unreadable answer: try again after a backoff
    FINAL = "final"  # auth, not found, usage: asking again changes nothing


def classify(exc: BaseException, ref: str) -> tuple[Failure, JobpollError]:
    """What a lookup's exception means, as a JobpollError naming the job. An
    exception that is not a JobpollError is a parser meeting something new: it is
    treated like an unreadable answer."""
    if not isinstance(exc, JobpollError):
        exc = UnavailableError(f"unexpected {type(exc).__name__} reading the answer: {exc}")
    exc = exc.for_job(ref)
    if isinstance(exc, RateLimitedError):
        return Failure.RATE_LIMITED, exc
    if isinstance(exc, UnavailableError) and exc.retryable:
        return Failure.TRANSIENT, exc
    return Failure.FINAL, exc  # an untrusted certificate stays untrusted, as a bad key stays bad


# ---- what a lookup shows --------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """A job's lookup: the job, or the error that stopped it, and the warnings it
    is worth (a forgotten job shown from the history, an unknown status word)."""

    ref: str
    job: Job | None = None
    error: JobpollError | None = None
    notes: list[str] = field(default_factory=list)  # what the lookup itself noticed

    @property
    def warnings(self) -> list[str]:
        """Every warning this outcome is worth, an unknown status word included."""
        if self.job is not None and self.job.state is State.UNKNOWN:
            return [*self.notes, unknown_status_note(self.job)]
        return list(self.notes)

    def exit_code(self, *, exit_status: bool = False) -> ExitCode | None:
        """This job's part of a one-shot lookup's exit status (None: it says nothing)."""
        if self.error is not None:
            return ExitCode(self.error.exit_code)
        return job_exit_code(self.job, finished=False) if exit_status and self.job else None


def settle(ref: str, previous: Job | None, job: Job | None, error: JobpollError | None) -> Outcome:
    """What a lookup's answer (a job, or a final error) shows. A job the provider
    has forgotten that the history knows as finished shows its stored ending."""
    forgotten = forgotten_ending(previous, job, error)
    if forgotten is not None:
        return Outcome(ref, job=previous, notes=[f"{ref}: {forgotten}"])
    return Outcome(ref, job=job, error=error)


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


def unknown_status_note(job: Job) -> str:
    return f"{job.ref}: unknown status {job.status!r} from {job.provider}; treated as not finished"


def job_exit_code(job: Job, *, finished: bool) -> ExitCode:
    """A job's part of the exit status: 1 for a bad ending, 0 for done, 5 for a job
    not finished (`finished` says the caller saw it end, as a watch does)."""
    if job.state in BAD_ENDINGS:
        return ExitCode.JOB_FAILED
    if job.terminal or finished:
        return ExitCode.OK
    return ExitCode.UNFINISHED


# ---- the drivers --------------------------------------------------------------------------


def lookup(
    http: "SyncHttp",
    endpoint: "Endpoint",
    job_id: str,
    *,
    previous: Job | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: "Callable[[str, float], None] | None" = None,
) -> Found:
    """The job as the provider tells it now, with the follow-up a finished job needs.
    Transient failures are retried RETRIES times; a 429 is waited out when short,
    and `on_wait(provider, until)` hears of each such wait before it starts."""

    def once() -> Found:
        return run_steps(http, endpoint, steps(endpoint.provider, job_id, previous, patience=MAX_RATE_WAIT))

    def waiting(until: float) -> None:
        if on_wait is not None:
            on_wait(endpoint.provider.name, until)

    return with_retries(once, sleep=sleep, on_wait=waiting)


def run_steps(http: "SyncHttp", endpoint: "Endpoint", plan: Steps) -> Found:
    """Send each request of `plan`, hand it the answer (a 429 is handed in as the
    exception, for the plan to judge), and return what it found."""
    request = next(plan)
    while True:
        try:
            answer = http.get(endpoint, request)
        except RateLimitedError as exc:
            try:
                request = plan.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            request = plan.send(answer)
        except StopIteration as done:
            return done.value


async def attempt(
    http: "AsyncHttp",
    endpoint: "Endpoint",
    job_id: str,
    *,
    previous: Job | None,
    on_status: Callable[["Answer"], None] | None = None,
    patience: float = FOLLOWUP_MAX_WAIT,
) -> Found:
    """One lookup over the async client, no retries (the watch schedules them).
    `on_status` sees the status answer (the pacer reads its rate-limit headers; a
    follow-up has a budget of its own)."""
    plan = steps(endpoint.provider, job_id, previous, patience=patience)
    request = next(plan)
    first = True
    while True:
        try:
            answer = await http.get(endpoint, request)
        except RateLimitedError as exc:
            try:
                request = plan.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        if first and on_status is not None:
            on_status(answer)
        first = False
        try:
            request = plan.send(answer)
        except StopIteration as done:
            return done.value


def with_retries(
    action: Callable[[], T],
    *,
    retries: int = RETRIES,
    max_rate_wait: float = MAX_RATE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> T:
    """`action()`, tried again after a transient failure (network, 5xx, unreadable
    answer) up to `retries` times with backoff. 429s are waited out while their
    waits add up to at most `max_rate_wait` seconds; a 429 without a usable time
    (Retry-After 0, negative, unreadable, past) waits a short floor and counts as a
    failure. Giving up on a 429 says when the provider takes requests again;
    `on_wait(until)` hears of each 429 wait before it starts."""
    failures = 0
    waited = 0.0
    while True:
        try:
            return action()
        except RateLimitedError as exc:
            wait = max(0.0, exc.retry_at - time.time())
            if not exc.given:
                failures += 1
            if waited + wait > max_rate_wait or failures > retries:
                raise _gave_up(exc, failures) from None
            waited += wait
            if on_wait is not None:
                on_wait(time.time() + wait)
            sleep(wait)
        except UnavailableError as exc:
            failures += 1
            if failures > retries or not exc.retryable:
                raise
            sleep(backoff_delay(failures))


def _gave_up(exc: RateLimitedError, failures: int) -> RateLimitedError:
    """The 429 that ended a lookup, saying when to come back."""
    from datetime import timezone

    if exc.given:
        moment = datetime.fromtimestamp(exc.retry_at, timezone.utc)
        when = f"it takes requests again at {moment.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        if exc.retry_at - time.time() < 3600:
            when += f" (in {max(1, round(exc.retry_at - time.time()))} s)"
    else:
        when = (f"gave up after {failures} rate-limited tries; it gave no usable time to come back, "
                "so try again in a minute")
    return RateLimitedError(f"{exc.message}; {when}", retry_at=exc.retry_at, given=exc.given,
                            job=exc.job, hint=exc.hint)


def lookup_all(http: "SyncHttp", targets: "list[Target]", *, workers: int = 16,
               on_wait: "Callable[[str, float], None] | None" = None) -> list[Outcome]:
    """Look every target up at once; outcomes in the given order, settled.

    An exception that is not a JobpollError is a defect, not an answer: one-shot
    lookups let it through (the command reports it, with a traceback under
    JOBPOLL_DEBUG) where the watch would retry it."""

    def one(target: "Target") -> Outcome:
        ref = target.ref.ref
        try:
            found = lookup(http, target.endpoint, target.ref.id, previous=target.previous, on_wait=on_wait)
        except JobpollError as exc:
            return settle(ref, target.previous, None, classify(exc, ref)[1])
        outcome = settle(ref, target.previous, found.job, None)
        if found.note:
            outcome.notes.insert(0, found.note)
        return outcome

    if len(targets) == 1:
        return [one(targets[0])]
    # Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the command ends at once
    # instead of joining workers that sit in a 429 wait or a slow read.
    import queue
    import threading

    results: list[Outcome | None] = [None] * len(targets)
    defects: list[Exception] = []
    pending: "queue.SimpleQueue[int]" = queue.SimpleQueue()
    for index in range(len(targets)):
        pending.put(index)

    def worker() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = one(targets[index])
            except Exception as exc:  # noqa: BLE001 - raised again in the caller's thread
                defects.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(targets)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if defects:
        raise defects[0]
    return [r for r in results if r is not None]
