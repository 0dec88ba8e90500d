"""Pictory: `GET /pictoryapis/v1/jobs/ID` (shared/providers/pictory.txt)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from jobpoll.errors import JobpollError, NotFoundError
from jobpoll.model import Job, JobError, Output, State, iso_utc
from jobpoll.providers._payload import (
    add_output,
    as_code,
    as_dict,
    as_duration,
    as_message,
    as_number,
    as_progress,
    as_text,
    aware,
    is_success,
    map_state,
    read_body,
    status_word,
    unexpected_shape,
)
from jobpoll.providers.base import Answer, Provider, Request

JOB_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)

# "in-progress" covers both waiting and rendering; _state tells them apart.
STATES = {
    "in-progress": State.QUEUED,
    "completed": State.DONE,
    "failed": State.FAILED,
    # Pictory removed the job's data after its retention period.
    "cleaned": State.EXPIRED,
}

# Output fields in the order they are listed; `url` is where AI-Studio jobs put
# the video that other jobs call videoURL.
OUTPUT_FIELDS = (
    ("videoURL", "video"),
    ("url", "video"),
    ("audioURL", "audio"),
    ("thumbnail", "thumbnail"),
    ("srtFile", "subtitles"),
    ("vttFile", "subtitles"),
    ("txtFile", "text"),
    ("videoShareURL", "page"),
    ("videoEmbedURL", "page"),
)

# An unknown job is answered with these, with whatever HTTP status (SPEC, quirks).
NOT_FOUND_MESSAGE = "JOB_NOT_FOUND"
NOT_FOUND_CODE = "5000"


class Pictory(Provider):
    name = "pictory"
    id_pattern = JOB_ID
    id_shape = "Pictory job ID (a UUID, e.g. 265a7c1a-4985-4058-9208-68114f131a2b)"
    default_base_url = "https://api.pictory.ai"
    default_interval = 10.0  # the docs ask for 10-30 s between polls
    auth_header = "Authorization"
    auth_prefix = ""
    budget = None
    supports_list = False

    # ---- requests ----------------------------------------------------------
    def status_request(self, job_id: str) -> Request:
        return Request(f"/pictoryapis/v1/jobs/{job_id}")

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        try:
            return self._parse(job_id, answer, now)
        except JobpollError as err:
            raise err.for_job(f"{self.name}:{job_id}")

    # ---- internals ---------------------------------------------------------
    def _parse(self, job_id: str, answer: Answer, now: datetime) -> Job:
        body = read_body(self, answer)
        if self._is_not_found(body):
            raise NotFoundError(f"pictory does not know this job: {self._message(body)}")
        if not is_success(answer.status_code):
            raise self.generic_error(answer, message=self._message(body))
        if not isinstance(body, dict):
            raise unexpected_shape(self.name, "not a JSON object")
        data = as_dict(body.get("data"))
        if data is None:
            raise unexpected_shape(self.name, self._message(body) or "no 'data' object")
        return self._job(job_id, data, now)

    def _job(self, job_id: str, data: dict[str, Any], now: datetime) -> Job:
        word = status_word(self.name, data)
        state = map_state(word, STATES)
        if state is State.QUEUED and self._rendering(data):
            state = State.RUNNING

        if state is State.DONE:
            progress: float | None = 100.0
        elif state is State.RUNNING:
            progress = as_progress(data.get("renderProgress"))
            if progress is None:
                progress = as_progress(data.get("progress"))
        else:
            progress = None

        error = None
        if state is State.FAILED:
            error = JobError(
                as_code(data.get("error_code")),
                as_text(data.get("error_message")) or "render failed",
            )

        outputs: list[Output] = []
        for key, kind in OUTPUT_FIELDS:
            add_output(outputs, kind, data.get(key))
        video = next((o.url for o in outputs if o.type == "video"), None)

        return Job(
            provider=self.name,
            id=job_id,
            state=state,
            status=word,
            progress=progress,
            message=as_text(data.get("renderProgressMessage")) or as_text(data.get("message")),
            url=video,
            outputs=tuple(outputs),
            error=error,
            duration=self._duration(data),
            checked_at=iso_utc(aware(now)),
            raw=data,  # the job object without the {job_id, success} envelope
        )

    @staticmethod
    def _duration(data: dict[str, Any]) -> float | None:
        # Video jobs say videoDuration: 63.5; AI-Studio jobs say duration: "8s".
        found = as_duration(data.get("videoDuration"))
        return found if found is not None else as_duration(data.get("duration"))

    @staticmethod
    def _rendering(data: dict[str, Any]) -> bool:
        # renderState (with renderProgress and its message) appears once rendering
        # has started; before that "in-progress" only means queued.
        return data.get("renderState") is not None or as_number(data.get("renderProgress")) is not None

    @staticmethod
    def _is_not_found(body: Any) -> bool:
        """error_message JOB_NOT_FOUND (or code 5000 with no status), at the top
        level or in `data`."""
        body = as_dict(body)
        if body is None:
            return False
        for place in (body, as_dict(body.get("data")) or {}):
            message = as_text(place.get("error_message")) or as_text(place.get("message"))
            if message and message.upper() == NOT_FOUND_MESSAGE:
                return True
            if as_code(place.get("error_code")) == NOT_FOUND_CODE and "status" not in place:
                return True
        return False

    @staticmethod
    def _message(body: Any) -> str | None:
        """Pictory's own words for an error, wherever it put them."""
        body = as_dict(body)
        if body is None:
            return None
        data = as_dict(body.get("data")) or {}
        error = body.get("error")
        text = (
            as_message(body.get("error_message"))
            or as_message(data.get("error_message"))
            or as_message(body.get("message"))
            or as_message(data.get("message"))
            or as_message(error)
            or as_message((as_dict(error) or {}).get("message"))
        )
        code = as_code(body.get("error_code")) or as_code(data.get("error_code"))
        if code and text:
            return f"{text} (error_code {code})"
        return text or (f"error_code {code}" if code else None)
