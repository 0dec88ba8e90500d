"""Muvi: `GET /v1/jobs/ID` and `GET /v1/jobs` (shared/providers/muvi.txt, muvi-list.txt).

Single lookups and list items go through the same `_job`, so both map states the
same way; list items just carry no outputs.
"""

from __future__ import annotations

from datetime import datetime
from posixpath import splitext
from typing import Any
from urllib.parse import urlsplit

from jobpoll.errors import JobpollError, NotFoundError, UsageError
from jobpoll.model import BAD_ENDINGS, Job, JobError, Output, State, iso_utc, normalize_time
from jobpoll.providers._payload import (
    add_output,
    as_code,
    as_dict,
    as_list,
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

STATES = {
    "pending": State.QUEUED,
    "processing": State.RUNNING,
    "completed": State.DONE,
    "failed": State.FAILED,
    "cancelled": State.CANCELLED,
}
# The list endpoint's server-side `status` filter, from jobpoll's state names.
FILTERS = {state: word for word, state in STATES.items()}
MAX_LIMIT = 100

# Muvi's error codes are stable identifiers, so they decide over the HTTP status;
# each says in plain words what is wrong with the key.
AUTH_CODES = {
    "UNAUTHORIZED": "no valid API key was sent",
    "INVALID_API_KEY": "the API key is not valid",
    "API_KEY_INACTIVE": "the API key is inactive",
    "API_KEY_EXPIRED": "the API key has expired",
    "IP_NOT_WHITELISTED": "this machine's IP address is not whitelisted for the key",
    "OPERATION_NOT_ALLOWED": "the key may not do this (job lookups need the check_status scope)",
}
NOT_FOUND_CODES = {"JOB_NOT_FOUND"}

OUTPUT_KINDS = {"video", "image", "audio", "text"}  # the documented output types
EXTENSION_KINDS = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".avif"), "image"),
    **dict.fromkeys((".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac", ".opus"), "audio"),
    ".txt": "text",
}


class Muvi(Provider):
    name = "muvi"
    default_base_url = "https://api.muvi.video"
    default_interval = 5.0
    auth_header = "Authorization"
    auth_prefix = "Bearer "
    budget = None
    supports_list = True
    # Items carry no outputs: one single lookup ends each job.
    list_policy = ListPolicy(dated=False, complete=False, active=("queued", "running"))
    # Newest first, no date filter; a server-side status filter for these states.
    list_states = frozenset(state.value for state in FILTERS)
    list_newest_first = True

    # ---- requests ----------------------------------------------------------
    def status_request(self, job_id: str) -> Request:
        return Request(f"/v1/jobs/{job_id}")

    def list_request(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        state: str | None,
        limit: int,
        cursor: str | None,
    ) -> Request:
        # Muvi has no date filter: the caller applies since/until to createdAt.
        params = {"limit": str(max(1, min(limit, MAX_LIMIT)))}
        if cursor:
            params["cursor"] = cursor
        if state is not None:
            params["status"] = self._filter_word(state)
        return Request("/v1/jobs", params)

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        try:
            data = self._read(answer)
            return self._job(job_id, data, now, with_outputs=True)
        except JobpollError as err:
            raise err.for_job(f"{self.name}:{job_id}")

    def parse_list(self, answer: Answer, now: datetime) -> ListPage:
        data = self._read(answer)
        if "jobs" not in data:
            raise unexpected_shape(self.name, "no 'jobs' in the list answer")
        if not isinstance(data["jobs"], (list, type(None))):
            raise unexpected_shape(self.name, "'jobs' is not a list")
        jobs = list_jobs(
            as_list(data["jobs"]), "jobId",
            lambda job_id, item: self._job(job_id, item, now, with_outputs=False),
        )
        # Follow nextCursor while hasMore (muvi-list.txt).
        return ListPage(jobs, next_cursor(data.get("nextCursor"), data.get("hasMore")))

    # ---- internals ---------------------------------------------------------
    def _filter_word(self, state: str) -> str:
        try:
            return FILTERS[State(state)]
        except (ValueError, KeyError):
            known = ", ".join(s.value for s in FILTERS)
            raise UsageError(
                f"muvi cannot filter jobs on state {str(state)!r} (it can on: {known})"
            ) from None

    def _read(self, answer: Answer) -> dict[str, Any]:
        """The job (or list) object: errors raised, the {success, data} wrapping removed."""
        body = read_body(self, answer)
        if not is_success(answer.status_code) or self._is_error_envelope(body):
            raise self._error(answer, body)
        if not isinstance(body, dict):
            raise unexpected_shape(self.name, "not a JSON object")
        data = as_dict(body.get("data"))
        if data is not None and "status" not in body and "jobs" not in body:
            return data
        return body

    @staticmethod
    def _is_error_envelope(body: Any) -> bool:
        # {success: false, error: {...}} rather than a job, whose failures also
        # carry an `error` object but always a `status`.
        body = as_dict(body)
        return (
            body is not None
            and body.get("success") is False
            and "status" not in body
            and as_dict(body.get("data")) is None
        )

    def _error(self, answer: Answer, body: Any) -> JobpollError:
        body = as_dict(body) or {}
        error = as_dict(body.get("error")) or {}
        code = as_code(error.get("code")) or as_code(body.get("code"))
        message = (
            as_message(error.get("message"))
            or as_message(body.get("message"))
            or as_message(body.get("error"))
        )
        parts = [p for p in (code, message) if p]
        detail = ": ".join(parts) if parts else f"HTTP {answer.status_code}"
        request_id = as_message(body.get("requestId"))
        if request_id:
            detail += f" (request {request_id})"  # what Muvi support asks for

        upper = (code or "").upper()
        if upper in AUTH_CODES:
            return self.auth_error(f"muvi refused the request: {AUTH_CODES[upper]} ({detail})")
        if upper in NOT_FOUND_CODES:
            return NotFoundError(f"muvi does not know this job: {detail}")
        if is_success(answer.status_code):
            return unexpected_shape(self.name, detail)
        return self.generic_error(answer, message=detail)

    def _job(self, job_id: str, data: dict[str, Any], now: datetime, *, with_outputs: bool) -> Job:
        word = status_word(self.name, data)
        state = map_state(word, STATES)
        outputs, url = self._outputs(data) if with_outputs else ([], None)
        progress = 100.0 if state is State.DONE else as_progress(data.get("progress"))
        if state in BAD_ENDINGS and progress == 0:
            progress = None  # Muvi answers 0 for any failed job: not how far it got
        return Job(
            provider=self.name,
            id=job_id,
            state=state,
            status=word,
            progress=progress,
            message=as_text(data.get("message")),
            url=url,
            outputs=tuple(outputs),
            error=self._job_error(state, data.get("error")),
            created_at=normalize_time(data.get("createdAt")),
            updated_at=normalize_time(data.get("updatedAt")),
            ended_at=normalize_time(data.get("completedAt")),
            checked_at=iso_utc(aware(now)),
            raw=data,
        )

    @staticmethod
    def _job_error(state: State, error: Any) -> JobError | None:
        if state not in (State.FAILED, State.CANCELLED):
            return None
        # Documented as {code, message}; a bare string is taken as the message, and
        # an empty {} (the docs' own placeholder) as no error at all.
        details = as_dict(error) or {}
        code = as_code(details.get("code"))
        message = as_text(details.get("message")) or as_text(error) or code
        if message:
            return JobError(code, message)
        return JobError(None, "generation failed") if state is State.FAILED else None

    @staticmethod
    def _outputs(data: dict[str, Any]) -> tuple[list[Output], str | None]:
        """Every output, and the main one: the first video, else the first result
        of any kind (an image model's image). Thumbnails and posters are extras,
        never the main output."""
        outputs: list[Output] = []
        results: list[Output] = []
        for item in as_list(data.get("outputs")):
            item = as_dict(item)
            if item is None:
                continue
            url = as_text(item.get("url"))
            if url:
                kind = item.get("type")
                kind = kind.lower() if isinstance(kind, str) else None
                if kind not in OUTPUT_KINDS:
                    kind = _kind_of(url)
                add_output(outputs, kind, url)
                results.append(Output(kind, url))
            add_output(outputs, "thumbnail", item.get("thumbnail"))
            add_output(outputs, "image", item.get("posterImage"))
        # `output` is the convenience copy of the first item's URL: used only when
        # there is no `outputs` array to read.
        single = as_text(data.get("output"))
        if not results and single:
            kind = _kind_of(single)
            add_output(outputs, kind, single)
            results.append(Output(kind, single))
        video = next((o.url for o in results if o.type == "video"), None)
        return outputs, video or (results[0].url if results else None)


def _kind_of(url: str) -> str:
    """An output's type from its file extension; video unless it says otherwise."""
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. a malformed IPv6 host
        return "video"
    return EXTENSION_KINDS.get(splitext(path)[1].lower(), "video")
