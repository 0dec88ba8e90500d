"""json2video: `GET /v2/movies?project=ID` (shared/providers/json2video.txt).

One code path turns a "movie" object into a Job, for a single lookup and for every
item of a listing alike, so `status` and `list` can never disagree about a job.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Container

from jobpoll.errors import JobpollError, NotFoundError, UsageError
from jobpoll.model import Job, JobError, Output, State, iso_utc, normalize_time, parse_time
from jobpoll.providers._payload import (
    add_output,
    as_dict,
    as_duration,
    as_message,
    as_progress,
    as_text,
    aware,
    is_success,
    list_jobs,
    map_state,
    next_cursor,
    read_body,
    status_word,
    unexpected_shape,
)
from jobpoll.providers.base import Answer, ListPage, ListPolicy, Provider, Request

PROJECT_ID = re.compile(r"[A-Za-z0-9]{16}")

STATES = {
    "pending": State.QUEUED,
    "running": State.RUNNING,
    "done": State.DONE,
    "error": State.FAILED,
    # Documented as computed client-side; should the server ever send it, it means
    # the same thing.
    "timeout": State.TIMEOUT,
}

# The documented rule: the server keeps a stuck render "running" forever; clients
# are to treat one older than this as a fatal timeout.
STALE_AFTER = timedelta(minutes=15)
TIMEOUT_MESSAGE = (
    "still running more than 15 minutes after it was created; "
    "json2video treats that as a failed render"
)

# The list endpoint refuses ranges over 93 days ("Maximum date range is 3 months").
MAX_WINDOW = timedelta(days=93)
MAX_LIMIT = 100

# Error messages are not stable identifiers (SPEC, quirks), so they are matched
# loosely: a bad key has been seen as 400, 401 and 403, each saying so in words.
MENTIONS_KEY = re.compile(r"api[\s_-]*key", re.IGNORECASE)
SAYS_NOT_FOUND = re.compile(
    r"not\s+(?:been\s+)?found|does\s*n[o']t\s+exist|no\s+such|unknown\s+project",
    re.IGNORECASE,
)


class Json2Video(Provider):
    name = "json2video"
    id_pattern = PROJECT_ID
    id_shape = "json2video project ID (exactly 16 letters and digits, e.g. JkGxEoPRF9EgRb32)"
    default_base_url = "https://api.json2video.com"
    default_interval = 5.0
    auth_header = "x-api-key"
    auth_prefix = ""
    budget = None
    supports_list = True
    list_policy = ListPolicy(dated=True, complete=True)  # list items are whole movie objects
    list_dated = True  # date_start/date_end; no status filter
    parses_wanted = True
    list_max_span = MAX_WINDOW
    # Its own default is "since the first day of this month", which lists almost
    # nothing on the 1st; jobpoll asks for the last 30 days instead.
    list_default_span = timedelta(days=30)

    # ---- requests ----------------------------------------------------------
    def status_request(self, job_id: str) -> Request:
        return Request("/v2/movies", {"project": job_id})

    def list_request(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        state: str | None,
        limit: int,
        cursor: str | None,
    ) -> Request:
        # `state` is not sent: json2video cannot filter by status, the caller does.
        params: dict[str, str] = {}
        if since is not None:
            params["date_start"] = iso_utc(aware(since))
        if until is not None:
            params["date_end"] = iso_utc(aware(until))
        params["limit"] = str(max(1, min(limit, MAX_LIMIT)))
        if cursor:
            params["next_token"] = cursor
        return Request("/v2/movies", params)

    def list_windows(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        return super().list_windows(aware(since), aware(until))

    def explain_list_error(self, error: JobpollError, since: datetime | None, until: datetime | None) -> JobpollError:
        """json2video's documented 400s, with what they mean for `jobpoll list`."""
        if not isinstance(error, UsageError) or since is None or until is None:
            return error
        text = error.message.lower()
        window = f"{iso_utc(since)} to {iso_utc(until)}"
        if "start date" in text or "end date" in text:
            error.hint = f"jobpoll sent the range {window}; check --since/--until"
        elif "date range" in text or "3 months" in text:
            error.hint = (f"jobpoll splits ranges into windows of at most 93 days and sent {window}; "
                          "please report this")
        else:
            error.hint = f"while listing json2video jobs from {window}"
        return error

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        try:
            body = self._read(answer)
            movie = as_dict(body.get("movie"))
            if movie is None:
                raise self._error(answer, body)
            return self._movie_job(job_id, movie, now)
        except JobpollError as err:
            raise err.for_job(f"{self.name}:{job_id}")

    def parse_list(self, answer: Answer, now: datetime, wanted: Container[str] | None = None) -> ListPage:
        body = self._read(answer)
        if "movies" not in body:  # an error told with HTTP 200, or garbage
            raise self._error(answer, body)
        movies = [] if body["movies"] is None else body["movies"]
        if not isinstance(movies, list):
            raise unexpected_shape(self.name, "'movies' is not a list")
        jobs = list_jobs(movies, "project", lambda project, movie: self._movie_job(project, movie, now), wanted)
        return ListPage(jobs, next_cursor(body.get("next_token"), body.get("has_next")))

    # ---- internals ---------------------------------------------------------
    def _read(self, answer: Answer) -> dict[str, Any]:
        """A 2xx JSON object, or the mapped error."""
        body = read_body(self, answer)
        if not is_success(answer.status_code):
            raise self._error(answer, body)
        if not isinstance(body, dict):
            raise unexpected_shape(self.name, "not a JSON object")
        return body

    def _movie_job(self, job_id: str, movie: dict[str, Any], now: datetime) -> Job:
        word = status_word(self.name, movie)
        state = map_state(word, STATES)
        created = parse_time(movie.get("created_at"))
        if state is State.RUNNING and created and aware(now) - created > STALE_AFTER:
            state = State.TIMEOUT

        message = as_text(movie.get("message"))
        error = None
        if state is State.FAILED:
            # Also how an unknown project answers (200, status "error"): SPEC says
            # never guess, so it stays a failed job with json2video's message.
            error = JobError(None, message or "render failed")
        elif state is State.TIMEOUT:
            error = JobError(None, TIMEOUT_MESSAGE)

        url = as_text(movie.get("url"))
        size = movie.get("size")
        # The documented byte count of the video: a download is complete only at it.
        sizes = {url: size} if url and type(size) is int and size >= 0 else {}
        outputs: list[Output] = []
        add_output(outputs, "video", url)
        add_output(outputs, "subtitles", movie.get("ass"))  # `false` when there is none

        return Job(
            provider=self.name,
            id=job_id,
            state=state,
            status=word,
            progress=100.0 if state is State.DONE else as_progress(movie.get("progress")),
            message=message,
            url=url,
            outputs=tuple(outputs),
            error=error,
            created_at=iso_utc(created) if created else None,
            ended_at=normalize_time(movie.get("ended_at")),
            duration=as_duration(movie.get("duration")),
            checked_at=iso_utc(aware(now)),
            raw=movie,  # the job object, as a listing gives it: raw.status is the status
            extra={"output_sizes": sizes} if sizes else {},
        )

    def _error(self, answer: Answer, body: Any) -> JobpollError:
        """The exception for an error answer (or a 2xx without a movie)."""
        message = self._message(body)
        code = answer.status_code
        said = message or f"HTTP {code}"
        # Quoted parts are left out of the matching: they echo what was sent (the
        # ID in "Received ID: '…'"), not what went wrong. (An apostrophe inside a
        # word, as in "doesn't", starts no quote.)
        words = re.sub(r"(?<![A-Za-z])'[^']*'", "", message or "")
        if MENTIONS_KEY.search(words) and (code in (400, 401, 403) or is_success(code)):
            return self.auth_error(f"json2video rejected the API key: {message}")
        if code == 401:
            # json2video also answers 401 when the account's quota is used up.
            return self.auth_error(f"json2video rejected the API key or the quota is exceeded: {said}")
        if SAYS_NOT_FOUND.search(words) and (code == 400 or is_success(code)):
            return NotFoundError(f"json2video does not know this project: {message}")
        if is_success(code):
            return unexpected_shape(self.name, message or "no 'movie' object in the answer")
        # The documented 400s (bad ID shape, bad dates, range over 93 days) become
        # UsageError here, carrying json2video's own words.
        return self.generic_error(answer, message=message)

    @staticmethod
    def _message(body: Any) -> str | None:
        body = as_dict(body)
        if body is None:
            return None
        error = body.get("error")
        return (
            as_message(body.get("message"))
            or as_message(error)
            or as_message((as_dict(error) or {}).get("message"))
        )
