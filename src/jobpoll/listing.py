"""`jobpoll list`: jobs from the providers that can list and from the local history
for those that cannot, newest first.

This module decides what to ask and gathers the answers; commands/listing.py
parses the options and prints. It names no provider: each provider builds the
request for a page and reads a page (providers/base.py: list_request, parse_list,
and how its list pages: list_dated, list_max_span, list_states...); this module
pages to the end (or to --limit) through the lookup rules' retries. One
provider's failure is reported and the others are still listed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Iterator

from jobpoll.durations import parse_span
from jobpoll.errors import Interrupted, JobpollError, UnavailableError, UsageError
from jobpoll.model import STATE_NAMES, Job, State, parse_time, utcnow

if TYPE_CHECKING:
    from jobpoll.config import Config, Endpoint
    from jobpoll.history import History
    from jobpoll.http import SyncHttp

DEFAULT_API_RANGE = timedelta(days=30)  # a dated list without --since, unless the provider says
PAGE_SIZE = 100  # the most the APIs give per page
MAX_PAGES = 2000  # per window: an API that keeps handing out cursors must not loop forever

API = "api"
HISTORY = "history"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---- option values -------------------------------------------------------------


def parse_when(text: str, *, what: str, now: datetime, end_of_day: bool = False) -> datetime:
    """--since/--until: an ISO date (midnight UTC; with `end_of_day`, the day's last
    millisecond, so `--until 2026-11-30` includes the 30th), an ISO datetime (UTC
    unless it says otherwise), or a span back from now (7d, 12h, 90m, 2w)."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            day = datetime.fromisoformat(value).date()
        except ValueError:
            raise UsageError(f"invalid {what} {text!r}: no such date") from None
        moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
        return moment + timedelta(days=1, milliseconds=-1) if end_of_day else moment
    if value[:1].isdigit() and ("-" in value or ":" in value):
        moment = parse_time(value)
        if moment is None:
            raise UsageError(
                f"invalid {what} {text!r}: not an ISO date or datetime "
                "(e.g. 2026-11-01 or 2026-11-01T09:30:00Z)"
            )
        return moment
    try:
        span = parse_span(value, what=what)
    except UsageError:
        raise UsageError(
            f"invalid {what} {text!r}: use an ISO date (2026-11-01), a datetime "
            "(2026-11-01T09:30:00Z) or a span back from now (7d, 12h, 90m, 2w)"
        ) from None
    try:
        return now - span
    except OverflowError:
        raise UsageError(f"invalid {what} {text!r}: too far back") from None


def parse_state(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return State(text.strip().lower())
    except ValueError:
        raise UsageError(f"invalid --state {text!r} (states: {', '.join(STATE_NAMES)})") from None


# ---- the query and its answer --------------------------------------------------


@dataclass
class ListQuery:
    providers: list[str]  # in registry order
    chosen: bool  # named with -p: a missing key is an error, not a note
    since: datetime | None = None
    until: datetime | None = None
    state: State | None = None
    limit: int | None = None
    # Set when the listing is abandoned (Ctrl-C): other providers' threads stop
    # before their next page instead of paging on to the end.
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


@dataclass
class Row:
    job: Job
    source: str  # API or HISTORY
    when: str | None = None  # sort time: created_at, else when jobpoll first saw the job

    def __post_init__(self) -> None:
        if self.when is None:
            self.when = self.job.created_at


@dataclass
class ListResult:
    rows: list[Row] = field(default_factory=list)
    errors: list[JobpollError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def newest_first(rows: list[Row]) -> list[Row]:
    """Newest first by created_at (history rows without one: when jobpoll first saw
    them); undated rows last. The sort is stable: each source's own order stays
    among equals."""
    moments = [parse_time(row.when) for row in rows]
    dated = sorted(((m, r) for m, r in zip(moments, rows) if m), key=lambda pair: pair[0], reverse=True)
    return [r for _, r in dated] + [r for m, r in zip(moments, rows) if not m]


def list_jobs(
    query: ListQuery,
    *,
    config: "Config",
    history: "History | None",
    connect: Callable[[], "SyncHttp"],
    now: datetime | None = None,
) -> ListResult:
    """Every provider of the query listed; one provider's failure does not stop the
    others. Jobs listed from an API are recorded into the history. `connect` makes
    the HTTP client (only called when some provider is listed from its API)."""
    from jobpoll.config import env_var, require_key, resolve_endpoint
    from jobpoll.providers import get_provider

    now = now or utcnow()
    result = ListResult()
    api_endpoints: list["Endpoint"] = []
    from_history: list[str] = []
    for name in query.providers:
        if not get_provider(name).supports_list:
            from_history.append(name)
            continue
        endpoint = resolve_endpoint(config, name)
        if not endpoint.key:
            if query.chosen:
                require_key(endpoint)  # raises: -p NAME without a key is exit 3
            result.notes.append(
                f"{name} skipped: no API key (add one with 'jobpoll config set-key {name}' "
                f"or set {env_var(name, 'api_key')})"
            )
            continue
        api_endpoints.append(endpoint)

    listed: list[Job] = []
    if api_endpoints:
        client = connect()
        try:
            for jobs, error in _run_all(client, api_endpoints, query, now):
                listed.extend(jobs)
                if error is not None:
                    result.errors.append(error)
        finally:
            client.close()

    if history is not None and listed:
        from jobpoll.history import merge_known

        known = history.get_many([(j.provider, j.id) for j in listed])
        # Some lists' items carry no URLs: the history has them for jobs seen finished.
        listed = [merge_known(j, known.get((j.provider, j.id))) for j in listed]
        history.record(listed)
    result.rows.extend(Row(job, API) for job in listed)

    if history is not None and from_history:
        dated = history.query_dated(
            provider=from_history, since=query.since, until=query.until,
            state=query.state, limit=query.limit,
        )
        result.rows.extend(Row(job, HISTORY, when) for job, when in dated)

    result.rows = newest_first(result.rows)
    if query.limit is not None:
        result.rows = result.rows[: query.limit]
    return result


def list_report(query: ListQuery, *, config: "Config", warn: Callable[[str], None], use_history: bool = True,
                verbose: bool = False, now: datetime | None = None) -> ListResult:
    """`jobpoll list`'s engine: list_jobs with the history opened and closed
    around it and the HTTP client made when needed."""
    history = None
    if use_history:
        from jobpoll.history import open_history

        history = open_history(warn)
    try:
        def client() -> "SyncHttp":
            from jobpoll.http import SyncHttp

            return SyncHttp(verbose=verbose)

        return list_jobs(query, config=config, history=history, connect=client, now=now)
    finally:
        if history is not None:
            history.close()


def _run_all(
    http: "SyncHttp", endpoints: list["Endpoint"], query: ListQuery, now: datetime
) -> list[tuple[list[Job], JobpollError | None]]:
    """List every endpoint, at once when there are several."""
    if len(endpoints) == 1:
        return [list_from_api(http, endpoints[0], query, now)]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=len(endpoints))
    try:
        futures = [pool.submit(list_from_api, http, e, query, now) for e in endpoints]
        return [f.result() for f in futures]
    finally:
        query.cancel.set()  # after a Ctrl-C here, the other threads stop at their next page
        pool.shutdown(wait=False, cancel_futures=True)


# ---- listing from an API ---------------------------------------------------------


def list_from_api(
    http: "SyncHttp", endpoint: "Endpoint", query: ListQuery, now: datetime
) -> tuple[list[Job], JobpollError | None]:
    """(jobs, None), or the jobs gathered before a failure and that failure."""
    name = endpoint.provider.name
    jobs: list[Job] = []
    try:
        for job in _listed(http, endpoint, query, now):
            jobs.append(job)
            if query.limit is not None and len(jobs) >= query.limit:
                break
    except JobpollError as exc:
        if exc.hint is None:
            exc.hint = f"while listing {name} jobs"
        return jobs, exc
    return jobs, None


def _page_size(query: ListQuery, handed_out: int, *, exact: bool) -> int:
    """Under --limit, a page asks for no more jobs than are still wanted, when every
    job the server sends is handed out (`exact`: no filter applied here)."""
    if query.limit is None or not exact:
        return PAGE_SIZE
    return max(1, min(PAGE_SIZE, query.limit - handed_out))


def _pages(
    http: "SyncHttp",
    endpoint: "Endpoint",
    *,
    since: datetime | None,
    until: datetime | None,
    state: str | None,
    page_size: Callable[[], int],
    cancel: threading.Event,
) -> Iterator[list[Job]]:
    """Each page's jobs, following the cursor to the end."""
    from jobpoll.engine.lookup import with_retries

    provider = endpoint.provider
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        if cancel.is_set():
            raise Interrupted(f"listing {provider.name} jobs was interrupted")
        request = provider.list_request(
            since=since, until=until, state=state,
            limit=page_size(), cursor=cursor,
        )
        page = with_retries(lambda: provider.parse_list(http.get(endpoint, request), utcnow()))
        yield page.jobs
        if not page.cursor:
            return
        if page.cursor in seen:
            raise UnavailableError(f"{provider.name} handed out the same page cursor twice; stopped listing")
        seen.add(page.cursor)
        cursor = page.cursor
    raise UnavailableError(f"{provider.name} kept handing out more pages ({MAX_PAGES}); stopped listing")


def _listed(http: "SyncHttp", endpoint: "Endpoint", query: ListQuery, now: datetime) -> Iterator[Job]:
    """Every job the provider's list endpoint holds for the query, each once.

    A dated list is asked for windows of at most the provider's `list_max_span`,
    newest window first; an undated one is paged to the end (newest first ones
    stop at --since) and --since/--until are applied to created_at here. --state goes to
    the server where the provider can filter on it, else it is applied here."""
    provider = endpoint.provider
    wanted = query.state.value if query.state is not None else None
    server_state = wanted if wanted in provider.list_states else None
    if provider.list_dated:
        until = query.until or now
        since = query.since or until - (provider.list_default_span or DEFAULT_API_RANGE)
        windows: list[tuple[datetime | None, datetime | None]] = list(reversed(provider.list_windows(since, until)))
        dated_here = False
    else:
        windows, dated_here = [(None, None)], query.since is not None or query.until is not None
    # Every job the server sends is handed out: a page may ask for just what is still wanted.
    exact = server_state == wanted and not dated_here
    seen: set[str] = set()  # the jobs handed out so far

    def page_size() -> int:
        return _page_size(query, len(seen), exact=exact)

    for start, end in windows:
        try:
            for jobs in _pages(http, endpoint, since=start, until=end, state=server_state,
                               page_size=page_size, cancel=query.cancel):
                past_since = False
                for job in jobs:
                    if dated_here:
                        created = parse_time(job.created_at)
                        if created is None:
                            continue
                        if query.since is not None and created < query.since:
                            past_since = True
                            continue
                        if query.until is not None and created > query.until:
                            continue
                    # Windows share their boundary instant: a job there is listed twice.
                    if job.id in seen or (query.state is not None and job.state is not query.state):
                        continue
                    seen.add(job.id)
                    yield job
                if past_since and provider.list_newest_first:
                    return  # newest first: the rest was created before --since
        except JobpollError as exc:
            raise provider.explain_list_error(exc, start, end) from None
