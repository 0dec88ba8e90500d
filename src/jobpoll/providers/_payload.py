"""Lenient readers shared by the provider parsers.

Provider APIs drift from their documentation: numbers arrive as strings, nulls or
`{}` placeholders stand where strings were documented, envelopes come and go. Every
field is read through these helpers, so a surprising value turns into "absent"
(None) instead of a TypeError deep in a parser, and a body that cannot be a job at
all becomes one UnavailableError ("unexpected answer shape") that watch retries.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Container

from jobpoll.errors import JobpollError, UnavailableError
from jobpoll.model import Job, Output, State

if TYPE_CHECKING:
    from jobpoll.providers.base import Answer, Provider

# Provider messages go into one stderr line; a provider that sends a page of HTML
# or a stack trace must not flood the terminal.
MAX_MESSAGE = 300


def as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    """A non-blank string, stripped; anything else is absent."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def as_message(value: Any) -> str | None:
    """A provider's message fit for one stderr line: whitespace collapsed, capped."""
    text = as_text(value)
    if text is None:
        return None
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def as_code(value: Any) -> str | None:
    """An error code as a string: some APIs send "5000", others 5000."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return as_message(value)  # codes are quoted in one-line error messages


def as_number(value: Any) -> float | None:
    """A finite number; numeric strings ("42", " 1.5 ") count, booleans do not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return None
        return number if math.isfinite(number) else None
    return None


def as_progress(value: Any) -> float | None:
    """A percentage clamped into 0..100."""
    number = as_number(value)
    return None if number is None else min(100.0, max(0.0, number))


def as_duration(value: Any) -> float | None:
    """Media length in seconds: a number, "12.5", or text with units ("8s", "1m30s")."""
    if value is None:  # most answers until the end
        return None
    from jobpoll.durations import read_seconds

    return read_seconds(value)


def status_word(provider: str, data: dict[str, Any], key: str = "status") -> str:
    """The provider's status word, verbatim; without one the body is not a job."""
    word = data.get(key)
    if not isinstance(word, str):
        raise unexpected_shape(provider, f"no {key!r} string in the answer")
    return word


def map_state(word: str, table: dict[str, State]) -> State:
    # Case and surrounding blanks are forgiven; any other unfamiliar word is
    # UNKNOWN (SPEC: not terminal, never done), never a guess.
    return table.get(word.strip().lower(), State.UNKNOWN)


def add_output(outputs: list[Output], kind: str, url: Any) -> None:
    """Append an output if `url` is a usable string and not already listed."""
    if url is None:  # most of the fields a provider may fill, most of the time
        return
    text = as_text(url)
    # Compared field by field: a dataclass's == builds two tuples a pair, and a
    # finished job's answer lists up to nine outputs.
    if text and not any(o.url == text and o.type == kind for o in outputs):
        outputs.append(Output(kind, text))


def list_jobs(
    items: list[Any], id_key: str, make_job: Callable[[str, dict[str, Any]], Job],
    wanted: Container[str] | None = None,
) -> list[Job]:
    """The jobs of one listing page, each item made a Job by `make_job(id, item)`;
    with `wanted`, only the items of those IDs.

    A listing is an overview: an item that is no job (no ID under `id_key`, no
    status word) is left out rather than failing the whole page.
    """
    jobs = []
    for item in items:
        item = as_dict(item)
        job_id = as_text(item.get(id_key)) if item else None
        if job_id is None or (wanted is not None and job_id not in wanted):
            continue
        try:
            jobs.append(make_job(job_id, item))
        except JobpollError:
            continue
    return jobs


def next_cursor(cursor: Any, has_more: Any) -> str | None:
    """The cursor of the next listing page: an explicit false "has more" has the
    last word; a page that leaves it out but gives a cursor still has more."""
    return None if has_more is False else as_text(cursor)


def aware(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC (so comparisons never raise TypeError)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def unexpected_shape(provider: str, what: str) -> UnavailableError:
    return UnavailableError(f"{provider} sent an unexpected answer shape: {what}")


def is_success(code: int) -> bool:
    return 200 <= code < 300


def read_body(provider: "Provider", answer: "Answer") -> Any:
    """The answer's JSON. A 2xx that is not JSON is UnavailableError (retried); an
    error answer that is not JSON gives None, because a 401 or 502 with an HTML page
    is still a 401 or 502 and must be reported as such."""
    if is_success(answer.status_code):
        return provider.load_json(answer)
    try:
        return json.loads(answer.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
