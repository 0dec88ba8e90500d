"""Reelbot: `GET /api/v1/video/status/ID`, then once `GET /api/v1/video/download/ID`
(shared/providers/reelbot.txt, reelbot-download.txt).

The status answer carries no URL, only an S3 `outputKey`; the playable URL comes
from the download endpoint as a pre-signed link that lasts an hour. That endpoint
allows only 30 calls an hour, so jobpoll calls it once per finished job
(`followup_request`) and keeps the link with its expiry in `Job.extra`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from jobpoll.errors import JobpollError
from jobpoll.model import TERMINAL, Job, JobError, Output, State, iso_utc, normalize_time
from jobpoll.providers._payload import (
    as_code,
    as_dict,
    as_message,
    as_text,
    aware,
    is_success,
    map_state,
    read_body,
    status_word,
    unexpected_shape,
)
from jobpoll.providers.base import Answer, Provider, RateBudget, Request

STATES = {
    "queued": State.QUEUED,
    "processing": State.RUNNING,
    "completed": State.DONE,
    "failed": State.FAILED,
}

# Reelbot's error codes are stable identifiers, so they decide over the HTTP
# status; each is read as the HTTP status it is documented with, which picks the
# exception family through Provider.generic_error.
CODE_STATUS = {
    "UNAUTHORIZED": 401,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "INVALID_PROJECT_ID": 400,
    "VALIDATION_ERROR": 400,
    "INTERNAL_ERROR": 500,
    "CONFIG_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
# Not a bad key but a key that may not be used now: the auth family (exit 3),
# since what the user must do is about the key or the plan, not the job.
KEY_LIMITS = {
    "QUOTA_EXCEEDED": "the account's quota is exceeded",
    "KEY_LIMIT_REACHED": "the key's limit is reached",
}
# Download answers that mean "no link (yet)", not an error: the job stays as it is.
NO_LINK_CODES = frozenset({"VIDEO_NOT_READY", "OUTPUT_NOT_FOUND"})
LINK_LIFETIME = timedelta(hours=1)  # documented: the pre-signed URL lasts an hour


class Reelbot(Provider):
    name = "reelbot"
    default_base_url = "https://reelbot.space"
    default_interval = 5.0
    auth_header = "X-API-Key"
    auth_prefix = ""
    budget = RateBudget(60, 60.0)  # status requests per key
    supports_list = False

    # ---- requests ----------------------------------------------------------
    def status_request(self, job_id: str) -> Request:
        return Request(f"/api/v1/video/status/{job_id}")

    def followup_request(self, job: Job) -> Request | None:
        if job.state is State.DONE and job.url is None:
            return Request(f"/api/v1/video/download/{job.id}")
        return None

    # ---- answers -----------------------------------------------------------
    def parse_status(self, job_id: str, answer: Answer, now: datetime) -> Job:
        try:
            body = self._read(answer)
            return self._job(job_id, body, now)
        except JobpollError as err:
            raise err.for_job(f"{self.name}:{job_id}")

    def apply_followup(self, job: Job, answer: Answer, now: datetime) -> Job:
        """The job with the download link from `GET /api/v1/video/download/ID`."""
        try:
            body = self._read(answer, download=True)
        except _NoLink:
            return job
        except JobpollError as err:
            raise err.for_job(job.ref)
        url = as_text(body.get("downloadUrl"))
        if url is None:
            raise unexpected_shape(self.name, "no 'downloadUrl' in the download answer").for_job(job.ref)
        expires = normalize_time(body.get("expiresAt")) or iso_utc(aware(now) + LINK_LIFETIME)
        return job.with_(
            url=url,
            outputs=(Output("video", url),),
            extra={**job.extra, "url_expires_at": expires},
        )

    # ---- internals ---------------------------------------------------------
    def _read(self, answer: Answer, *, download: bool = False) -> dict[str, Any]:
        """A 2xx JSON object, or the mapped error. For the download, an answer that
        means "no link (yet)" (NO_LINK_CODES, or any 404: the status lookup already
        proved the project exists) raises _NoLink instead."""
        body = read_body(self, answer)
        failed = not is_success(answer.status_code) or (
            isinstance(body, dict) and body.get("success") is False and "status" not in body
        )
        if failed:
            code = as_code((as_dict(body) or {}).get("code"))
            if download and ((code or "").upper() in NO_LINK_CODES or answer.status_code == 404):
                raise _NoLink()
            raise self._error(answer, body)
        if not isinstance(body, dict):
            raise unexpected_shape(self.name, "not a JSON object")
        # Not documented, but cheap: accept the job wrapped as {success, data}.
        data = as_dict(body.get("data"))
        if data is not None and "status" not in body and "downloadUrl" not in body:
            return data
        return body

    def _error(self, answer: Answer, body: Any) -> JobpollError:
        body = as_dict(body) or {}
        code = as_code(body.get("code"))
        message = as_message(body.get("message")) or as_message(body.get("error"))
        parts = [p for p in (message, f"({code})" if code else None) if p]
        detail = " ".join(parts) if parts else f"HTTP {answer.status_code}"

        upper = (code or "").upper()
        if upper in KEY_LIMITS:
            return self.auth_error(f"reelbot refused the request: {KEY_LIMITS[upper]}: {detail}")
        if upper in CODE_STATUS:
            return self.generic_error(replace(answer, status_code=CODE_STATUS[upper]), message=detail)
        if is_success(answer.status_code):
            return unexpected_shape(self.name, detail)
        return self.generic_error(answer, message=detail)

    def _job(self, job_id: str, body: dict[str, Any], now: datetime) -> Job:
        word = status_word(self.name, body)
        state = map_state(word, STATES)
        updated = normalize_time(body.get("updatedAt"))
        error = None
        if state is State.FAILED:
            reason = body.get("error")
            details = as_dict(reason) or {}
            error = JobError(
                as_code(details.get("code")),
                as_text(reason) or as_text(details.get("message"))
                or as_text(body.get("message")) or "video generation failed",
            )
        return Job(
            provider=self.name,
            id=job_id,
            state=state,
            status=word,
            # Reelbot reports no progress; done is 100 by definition.
            progress=100.0 if state is State.DONE else None,
            message=as_text(body.get("message")),
            error=error,
            created_at=normalize_time(body.get("createdAt")),
            updated_at=updated,
            # A finished job's last update is when it finished.
            ended_at=updated if state in TERMINAL else None,
            checked_at=iso_utc(aware(now)),
            raw=body,  # outputKey stays here: an S3 key, not a URL anyone can open
        )


class _NoLink(Exception):
    """The download endpoint has no link for the job (yet); not an error."""
