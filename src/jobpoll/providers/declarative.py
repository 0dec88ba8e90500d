"""The one provider class behind every definition file (definition.py reads them).

Like the Python providers it does no I/O: it builds requests from the definition's
templates and reads answers with its JMESPath expressions. An answer goes through,
in order: the definition's acceptors (first match decides), the HTTP status (401/403
auth, 404 not found, 429 rate limited, other 4xx usage, 5xx unavailable), then the
expressions, which make the Job.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path
from posixpath import splitext
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobpoll.errors import JobpollError, NotFoundError, UnavailableError
from jobpoll.model import Job, JobError, Output, State, iso_utc, normalize_time
from jobpoll.providers._payload import (
    as_code,
    as_duration,
    as_message,
    as_number,
    as_text,
    aware,
    is_success,
    read_body,
    unexpected_shape,
)
from jobpoll.providers.base import Answer, ListPage, Provider, RateBudget, Request
from jobpoll.providers.definition import Acceptor, Definition, Expr, Fields, RequestSpec, read_definition

EXTENSION_KINDS = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".avif"), "image"),
    **dict.fromkeys((".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac", ".opus"), "audio"),
    **dict.fromkeys((".srt", ".vtt", ".ass"), "subtitles"),
    ".txt": "text",
}


def load_definition(name: str, path: Path) -> "Declarative":
    return Declarative(read_definition(name, path))


class Declarative(Provider):
    def __init__(self, definition: Definition):
        self.definition = d = definition
        self.name = d.name
        self.default_base_url = d.base_url
        self.default_interval = d.interval
        self.auth_header = d.auth_header
        self.auth_prefix = ""
        self.budget = RateBudget(*d.rate) if d.rate else None
        self.id_pattern = d.id_pattern
        self.id_shape = d.id_shape
        self.supports_list = d.listing is not None
        # The engine pages it (listing.py): no date or state filters on the server,
        # and paging may stop at --since only where the list is known to be newest first.
        self.list_newest_first = bool(d.listing and d.listing.newest_first)
        self.list_policy = None  # list items are read like single answers, but watch looks each job up

    @property
    def source(self) -> Path:
        return self.definition.path

    # ---- requests ----------------------------------------------------------
    def auth_headers(self, key: str) -> dict[str, str]:
        d = self.definition
        value = d.auth_format.replace("{key}", key)
        if d.basic:
            value = "Basic " + base64.b64encode(value.encode("ascii")).decode("ascii")
        return {**d.headers, d.auth_header: value}

    def status_request(self, job_id: str) -> Request:
        return _fill(self.definition.status, {"id": job_id})

    def followup_request(self, job: Job) -> Request | None:
        result = self.definition.result
        if result is None or job.state.value not in result.when:
            return None
        return _fill(result.request, {"id": job.id})

    def list_request(self, *, since: datetime | None, until: datetime | None, state: str | None,
                     limit: int, cursor: str | None) -> Request:
        # Definitions declare no server-side filters: the caller applies since/until/state.
        spec = self.definition.listing
        assert spec is not None, f"{self.name} has no list endpoint"
        size = max(1, min(limit, spec.max_limit))
        request = _fill(spec.request, {"limit": str(size)})
        params = dict(request.params)
        if cursor and spec.offset_param:
            params[spec.offset_param] = cursor
        elif cursor:
            params[spec.cursor_param] = cursor
        return Request(request.path, params)

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        try:
            body = read_body(self, answer)
            forced = self._decide(answer, body)
            if forced is None and not is_success(answer.status_code):
                raise self.generic_error(answer, self._answer_error(body))
            return self.read_job(job_id, body, now, forced=forced)
        except JobpollError as err:
            raise err.for_job(f"{self.name}:{job_id}")

    def apply_followup(self, job: Job, answer: Answer, now: datetime) -> Job:
        result = self.definition.result
        assert result is not None
        body = read_body(self, answer)
        if not is_success(answer.status_code):
            raise self.generic_error(answer, self._answer_error(body)).for_job(job.ref)
        outputs = list(job.outputs)
        url = _url(result.url.search(body)) if result.url else None
        _add_outputs(outputs, result.outputs, body)
        if url:
            _add(outputs, _kind("auto", url), url)
        return job.with_(url=url or job.url or _main_url(outputs), outputs=tuple(outputs))

    def parse_list(self, answer: Answer, now: datetime) -> ListPage:
        spec = self.definition.listing
        assert spec is not None
        body = read_body(self, answer)
        if not is_success(answer.status_code):
            raise self.generic_error(answer, self._answer_error(body))
        items = spec.items.search(body)
        if not isinstance(items, list):
            raise unexpected_shape(self.name, f"list.items ({spec.items.text}) found no array")
        jobs = []
        for item in items:
            job_id = _first_text(spec.id.search(item))
            if job_id is None:
                continue  # a listing is an overview: an item that is no job is left out
            try:
                jobs.append(self.read_job(job_id, item, now))
            except JobpollError:
                continue
        return ListPage(jobs, self._next_cursor(body, answer, len(items)))

    # ---- reading -----------------------------------------------------------
    def read_job(self, job_id: str, body: Any, now: datetime, *, forced: State | None = None) -> Job:
        """The Job the status expressions read from `body` (also `providers check --sample`)."""
        f: Fields = self.definition.fields
        word = f.state.search(body)
        if isinstance(word, (int, float)) and not isinstance(word, bool):
            word = str(word)
        if not isinstance(word, str) or not word.strip():
            if forced is None:
                raise unexpected_shape(self.name, f"status.state ({f.state.text}) found no status word")
            word = forced.value
        state = forced or State(f.states.get(word.strip().lower(), State.UNKNOWN.value))
        outputs: list[Output] = []
        url = _url(_get(f, "url", body))
        if url:
            _add(outputs, _kind("auto", url), url)
        _add_outputs(outputs, f.outputs, body)
        progress = None
        if f.progress is not None:
            number = as_number(f.progress.search(body))
            progress = None if number is None else min(100.0, max(0.0, round(number * f.scale, 2)))
        return Job(
            provider=self.name, id=job_id, state=state, status=word,
            progress=100.0 if state is State.DONE else progress,
            message=as_message(_text(_get(f, "message", body))),
            url=url or _main_url(outputs),
            outputs=tuple(outputs),
            error=self._job_error(state, f, body),
            created_at=_time(_get(f, "created_at", body)),
            updated_at=_time(_get(f, "updated_at", body)),
            ended_at=_time(_get(f, "ended_at", body)),
            duration=as_duration(_get(f, "duration", body)),
            checked_at=iso_utc(aware(now)),
            raw=body if isinstance(body, dict) else {"answer": body},
        )

    def _job_error(self, state: State, f: Fields, body: Any) -> JobError | None:
        if state not in (State.FAILED, State.CANCELLED, State.TIMEOUT, State.EXPIRED):
            return None
        code = as_code(f.error_code.search(body)) if f.error_code else None
        message = as_message(_text(f.error_message.search(body))) if f.error_message else None
        if message or code:
            return JobError(code, message or code or "")
        return JobError(None, "the job failed") if state is State.FAILED else None

    def _decide(self, answer: Answer, body: Any) -> State | None:
        """The first acceptor that matches: a job state to report, or an error raised."""
        for acceptor in self.definition.acceptors:
            if _matches(acceptor, answer, body):
                return self._outcome(acceptor, answer, body)
        return None

    def _outcome(self, acceptor: Acceptor, answer: Answer, body: Any) -> State | None:
        detail = acceptor.message or self._answer_error(body) or f"HTTP {answer.status_code}"
        if acceptor.outcome == "not_found":
            raise NotFoundError(f"{self.name} does not know this job: {detail}")
        if acceptor.outcome == "auth":
            raise self.auth_error(f"{self.name} rejected the API key: {detail}")
        if acceptor.outcome == "retry":
            raise UnavailableError(f"{self.name} is not answering properly: {detail}")
        return State(acceptor.outcome)

    def _answer_error(self, body: Any) -> str | None:
        expr = self.definition.answer_error
        return as_message(_text(expr.search(body))) if expr is not None and body is not None else None

    def _next_cursor(self, body: Any, answer: Answer, count: int) -> str | None:
        spec = self.definition.listing
        assert spec is not None
        if spec.offset_param:
            more = spec.more.search(body) if spec.more else count >= 1
            if not more or count == 0:
                return None
            try:
                here = _int(parse_qs(urlsplit(answer.url).query).get(spec.offset_param, ["0"])[0])
            except ValueError:
                here = 0
            return str(here + count)
        if spec.cursor is None:
            return None
        value = _first_text(spec.cursor.search(body))
        if value is None:
            return None
        if "://" in value or value.startswith(("/", "?")):
            # A next-page URL (Replicate): only its cursor is taken, so the request goes
            # to the configured base URL with the key, never to a host an answer names.
            try:
                found = parse_qs(urlsplit(value).query).get(spec.cursor_param)
            except ValueError:  # e.g. a malformed IPv6 host: no next page to be had
                raise unexpected_shape(self.name, f"an unreadable next-page URL: {value!r}") from None
            return found[0] if found else None
        return value


# ---- helpers -----------------------------------------------------------------------


def _fill(spec: RequestSpec, values: dict[str, str]) -> Request:
    def put(text: str) -> str:
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text

    return Request(put(spec.path), {name: put(value) for name, value in spec.params.items()})


def _matches(acceptor: Acceptor, answer: Answer, body: Any) -> bool:
    if acceptor.http_status is not None and acceptor.http_status != answer.status_code:
        return False
    if acceptor.path is None:
        return True
    found = acceptor.path.search(body)
    if acceptor.has_expected:
        return found == acceptor.expected or (
            isinstance(found, str) and isinstance(acceptor.expected, str)
            and found.strip().lower() == acceptor.expected.strip().lower())
    return bool(found)


def _get(f: Fields, key: str, body: Any) -> Any:
    expr: Expr | None = f.exprs.get(key)
    return expr.search(body) if expr is not None else None


def _text(value: Any) -> str | None:
    if isinstance(value, list):  # e.g. several messages: the first readable one
        return next((t for t in map(as_text, value) if t), None)
    return as_text(value)


def _first_text(value: Any) -> str | None:
    if isinstance(value, list):
        return next((t for t in map(_first_text, value) if t), None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return as_text(value)


def _url(value: Any) -> str | None:
    """The first URL in an expression's result: text that is no URL (a text model's
    answer, a placeholder) is not an output."""
    return next((s for s in _strings(value) if "://" in s), None)


def _strings(value: Any) -> list[str]:
    """Every URL-like string in an expression's result: a string, or strings in lists
    and objects (Replicate's `output` is whichever the model returns)."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def _add_outputs(outputs: list[Output], specs: tuple[tuple[str, Expr], ...], body: Any) -> None:
    for kind, expr in specs:
        for url in _strings(expr.search(body)):
            if "://" in url:
                _add(outputs, _kind(kind, url), url)


def _add(outputs: list[Output], kind: str, url: str) -> None:
    if all(o.url != url for o in outputs):
        outputs.append(Output(kind, url))


def _kind(kind: str, url: str) -> str:
    if kind != "auto":
        return kind
    try:
        path = urlsplit(url).path
    except ValueError:
        return "video"
    return EXTENSION_KINDS.get(splitext(path)[1].lower(), "video")


def _main_url(outputs: list[Output]) -> str | None:
    video = next((o.url for o in outputs if o.type == "video"), None)
    return video or (outputs[0].url if outputs else None)


def _time(value: Any) -> str | None:
    """ISO-8601 text, or epoch seconds (some APIs send numbers)."""
    number = as_number(value) if not isinstance(value, str) else None
    if number is not None and number > 0:
        try:
            moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return iso_utc(moment)
    return normalize_time(value)


def _int(text: str) -> int:
    try:
        return max(0, int(text))
    except ValueError:
        return 0
