"""The Provider interface: pure request building and answer parsing, no I/O.

http.py sends what `status_request` describes and hands back an `Answer`;
`parse_status` turns it into a Job or raises the error of its exit-code family.
Adding a provider means one module subclassing Provider plus one registry line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from jobpoll.errors import (
    AuthError,
    JobpollError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UsageError,
)
from jobpoll.model import Job, parse_time

# Every ID, whatever the provider: no slashes, no "..", no whitespace.
GENERIC_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True)
class Request:
    """A GET under the provider's base URL."""

    path: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """What came back over HTTP, before any interpretation."""

    status_code: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    url: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class RateBudget:
    """A published request budget per key: `requests` per `per_seconds`."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class ListPolicy:
    """How a provider's list endpoint can stand in for single lookups while watching
    many jobs (one request answers up to a page of them)."""

    dated: bool  # the list takes a creation-date window (json2video); else newest first, no filter
    complete: bool  # a listed job carries everything, endings included (else: one single lookup ends it)
    # States to list one after the other (server-side filter), so a page holds only
    # unfinished jobs; a member in none of them has ended. Empty: list everything.
    # Order matters: a job moving from the first to the second between the two
    # requests is found twice, never missed.
    active: tuple[str, ...] = ()


@dataclass
class ListPage:
    jobs: list[Job]
    cursor: str | None  # pass back for the next page; None at the end


class Provider:
    name: str = ""
    default_base_url: str = ""
    default_interval: float = 5.0  # seconds, the provider's own polling advice
    auth_header: str = ""  # the header carrying the key
    auth_prefix: str = ""  # e.g. "Bearer "
    budget: RateBudget | None = None
    # The provider's own ID shape, checked after GENERIC_ID (None: only that).
    id_pattern: "re.Pattern[str] | None" = None
    id_shape: str = ""  # what a valid ID looks like, for the error message
    supports_list: bool = False  # lists from its API (else: from the local history)
    list_policy: ListPolicy | None = None  # set when `watch` may batch lookups through the list
    # How its list endpoint pages (the engine paginates; see engine/ and listing.py):
    list_dated: bool = False  # list_request filters on a creation-date window (else: dates filtered here)
    list_max_span: timedelta | None = None  # the longest window one list request may cover
    list_default_span: timedelta | None = None  # a dated list without --since reaches back this far
    list_states: frozenset[str] = frozenset()  # states list_request can filter on (else: filtered here)
    list_newest_first: bool = False  # an undated list stops paging at the first job older than --since
    # parse_list takes `wanted` (IDs): the page's other items are left out before
    # they are made jobs. A watch's dated list window holds every job the account
    # made since its oldest member, and those are most of a page for a busy account.
    parses_wanted: bool = False

    # ---- names -------------------------------------------------------------
    @property
    def env_prefix(self) -> str:
        return f"JOBPOLL_{self.name.upper()}_"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {self.auth_header: f"{self.auth_prefix}{key}"}

    # ---- requests ----------------------------------------------------------
    def check_id(self, job_id: str) -> None:
        """Raise UsageError for an ID that must not be sent."""
        if not GENERIC_ID.fullmatch(job_id) or ".." in job_id:
            raise UsageError(
                f"{job_id!r} is not a valid job ID (letters, digits, '.', '_', '-'; at most 128)",
                job=f"{self.name}:{job_id}",
            )
        if self.id_pattern is not None and not self.id_pattern.fullmatch(job_id):
            raise UsageError(f"{job_id!r} is not a {self.id_shape}", job=f"{self.name}:{job_id}")

    def status_request(self, job_id: str) -> Request:
        raise NotImplementedError

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        """The Job an answer describes, or raise the error of its family."""
        raise NotImplementedError

    def followup_request(self, job: Job) -> Request | None:
        """A second request some providers need once a job is done (Reelbot's download)."""
        return None

    def apply_followup(self, job: Job, answer: Answer, now: datetime) -> Job:
        return job

    # ---- listing (providers with supports_list) ------------------------------
    def list_request(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        state: str | None,
        limit: int,
        cursor: str | None,
    ) -> Request:
        raise NotImplementedError

    def parse_list(self, answer: Answer, now: datetime) -> ListPage:
        """The page's jobs. A provider with `parses_wanted` also takes `wanted=`, a
        container of IDs, and makes jobs of those items only."""
        raise NotImplementedError

    def list_windows(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """[since, until] split into consecutive windows of at most `list_max_span`.

        Each window starts where the previous one ends (no gap, no overlap beyond
        that shared instant); a job created exactly on a boundary may be listed
        by both windows, so callers de-duplicate by ID.
        """
        from jobpoll.model import iso_utc

        if since > until:
            raise UsageError(f"the date range starts ({iso_utc(since)}) after it ends ({iso_utc(until)})")
        span = self.list_max_span
        windows = []
        start = since
        while True:
            # Compared as a span, not as start + span, which could overflow near datetime.max.
            end = until if span is None or until - start <= span else start + span
            windows.append((start, end))
            if end == until:
                return windows
            start = end

    def explain_list_error(self, error: JobpollError, since: datetime | None, until: datetime | None) -> JobpollError:
        """A list request's error with what it means for `jobpoll list` (a hint)."""
        return error

    # ---- shared helpers for subclasses -------------------------------------
    def load_json(self, answer: Answer) -> Any:
        try:
            return json.loads(answer.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise UnavailableError(
                f"{self.name} sent an unreadable answer (HTTP {answer.status_code}, "
                f"{len(answer.body)} bytes, not JSON)"
            ) from None

    def auth_error(self, text: str) -> AuthError:
        """An AuthError that says how to fix the key."""
        return AuthError(
            text, hint=f"check it with 'jobpoll config set-key {self.name}' or {self.env_prefix}API_KEY"
        )

    def generic_error(self, answer: Answer, message: str | None = None) -> JobpollError:
        """The exception for a non-2xx answer, by HTTP status family."""
        code = answer.status_code
        detail = message or f"HTTP {code}"
        if code == 429:
            retry_at, given = retry_hint(answer)
            return RateLimitedError(f"rate limited by {self.name}: {detail}", retry_at=retry_at, given=given)
        if code in (401, 403):
            return self.auth_error(f"{self.name} rejected the API key: {detail}")
        if code == 404:
            return NotFoundError(f"{self.name} does not know this job: {detail}")
        if 400 <= code < 500:
            return UsageError(f"{self.name} refused the request: {detail}")
        return UnavailableError(f"{self.name} is not answering properly: {detail}")


def retry_at_from(answer: Answer, now: float | None = None) -> float:
    """When a 429 lets us ask again (epoch seconds); see retry_hint."""
    return retry_hint(answer, now)[0]


def retry_hint(answer: Answer, now: float | None = None) -> tuple[float, bool]:
    """(when a 429 lets us ask again, in epoch seconds; whether the provider's time
    was usable): Retry-After (seconds or an HTTP date), else details.resetAt, else
    X-RateLimit-Reset, else a minute from now. A time that is 0, negative, not a
    number or past waits a floor and is not usable (it counts as a retry); a huge
    one is capped (retry.bounded_retry_at)."""
    import time

    from jobpoll.engine.pacing import reset_time
    from jobpoll.retry import bounded_retry_at

    now = time.time() if now is None else now
    retry_after = answer.header("retry-after")
    if retry_after is not None:
        return bounded_retry_at(_retry_after(retry_after.strip(), now), now)
    try:
        body = json.loads(answer.body)
        reset_at = ((body or {}).get("details") or {}).get("resetAt")
    except (ValueError, AttributeError, TypeError, UnicodeDecodeError, RecursionError):
        reset_at = None
    if reset_at is not None:
        reset = parse_time(reset_at) if isinstance(reset_at, str) else None
        return bounded_retry_at(reset.timestamp() if reset else None, now)
    reset_header = answer.header("x-ratelimit-reset")
    if reset_header is not None:
        return bounded_retry_at(reset_time(reset_header, now), now)
    return now + 60.0, True


def _retry_after(value: str, now: float) -> float | None:
    """Retry-After as epoch seconds (delay-seconds or an HTTP date), or None."""
    try:
        return now + float(value)  # "nan" and "inf" too: bounded_retry_at sorts them
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
