"""Reelbot: the state mapping, error codes, rate limits and the download follow-up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobpoll.errors import (
    AuthError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UsageError,
)
from jobpoll.exits import ExitCode
from jobpoll.model import JobError, Output, State, iso_utc, parse_time
from jobpoll.providers.base import RateBudget, Request
from jobpoll.providers.reelbot import Reelbot

from .payloads import (
    NOW,
    REELBOT_COMPLETED,
    REELBOT_DOWNLOAD,
    REELBOT_FAILED,
    REELBOT_ID,
    REELBOT_NOT_FOUND,
    REELBOT_OTHER_ERRORS,
    REELBOT_OUTPUT_NOT_FOUND,
    REELBOT_PROCESSING,
    REELBOT_QUEUED,
    REELBOT_RATE_LIMITED,
    REELBOT_SUCCESS_EXAMPLE,
    REELBOT_UNAUTHORIZED,
    REELBOT_VIDEO_NOT_READY,
    REMOVE,
    answer,
    variant,
)

P = Reelbot()


def parse(body, status=200, headers=None):
    return P.parse_status(REELBOT_ID, answer(body, status, headers), NOW)


def test_settings():
    assert P.name == "reelbot"
    assert P.default_base_url == "https://reelbot.space"
    assert P.default_interval == 5.0
    assert P.auth_headers("rb_live_k") == {"X-API-Key": "rb_live_k"}
    assert P.budget == RateBudget(60, 60.0)
    assert P.supports_list is False


@pytest.mark.parametrize("job_id", [REELBOT_ID, "proj-1.2_3"])
def test_valid_ids(job_id):
    P.check_id(job_id)


@pytest.mark.parametrize("job_id", ["../x", "a/b", "with space", "a" * 129, ""])
def test_invalid_ids(job_id):
    with pytest.raises(UsageError):
        P.check_id(job_id)


def test_status_request():
    assert P.status_request(REELBOT_ID) == Request(f"/api/v1/video/status/{REELBOT_ID}")


# ---- state mapping ---------------------------------------------------------------
@pytest.mark.parametrize(
    "body, state",
    [(REELBOT_QUEUED, State.QUEUED), (REELBOT_PROCESSING, State.RUNNING),
     (REELBOT_SUCCESS_EXAMPLE, State.RUNNING), (REELBOT_COMPLETED, State.DONE),
     (REELBOT_FAILED, State.FAILED)],
)
def test_state_mapping(body, state):
    job = parse(body)
    assert job.state is state and job.status == body["status"]
    assert job.message == body["message"]
    assert job.raw == body
    assert job.checked_at == "2026-05-12T08:00:00.000Z"


def test_no_progress_except_done():
    assert parse(REELBOT_QUEUED).progress is None
    assert parse(REELBOT_PROCESSING).progress is None
    assert parse(REELBOT_FAILED).progress is None
    assert parse(REELBOT_COMPLETED).progress == 100


def test_timestamps():
    job = parse(REELBOT_PROCESSING)
    assert job.created_at == "2025-01-21T16:30:00.000Z"
    assert job.updated_at == "2025-01-21T16:30:45.000Z"
    assert job.ended_at is None
    assert parse(REELBOT_QUEUED).updated_at is None
    assert parse(REELBOT_COMPLETED).ended_at == "2025-01-21T16:33:22.000Z"


def test_completed_has_no_url_and_keeps_output_key_in_raw():
    job = parse(REELBOT_COMPLETED)
    assert job.url is None and job.outputs == ()
    assert job.raw["outputKey"] == "users/abc123/output/video-xyz789.mp4"


def test_failed_error_string():
    job = parse(REELBOT_FAILED)
    assert job.error == JobError(None, "Failed to process B-roll asset: file not found")


def test_failed_without_error_uses_message():
    assert parse(variant(REELBOT_FAILED, error=REMOVE)).error == JobError(None, "Video generation failed")


def test_unknown_status_word():
    job = parse(variant(REELBOT_QUEUED, status="archived"))
    assert job.state is State.UNKNOWN and not job.terminal


# ---- errors ---------------------------------------------------------------------------
def test_401():
    with pytest.raises(AuthError) as info:
        parse(REELBOT_UNAUTHORIZED, 401)
    assert info.value.exit_code == ExitCode.AUTH
    assert "Please provide a valid API key" in info.value.message
    assert info.value.job == f"reelbot:{REELBOT_ID}"


def test_404():
    with pytest.raises(NotFoundError) as info:
        parse(REELBOT_NOT_FOUND, 404)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "Project not found" in info.value.message


def test_429_waits_until_reset_at():
    from jobpoll.providers.base import retry_hint

    from .payloads import answer

    reset = parse_time("2025-01-21T16:35:00.000Z").timestamp()
    assert retry_hint(answer(REELBOT_RATE_LIMITED, 429), now=reset - 30) == (reset, True)
    with pytest.raises(RateLimitedError) as info:
        parse(REELBOT_RATE_LIMITED, 429)
    assert "reduce polling frequency" in info.value.message
    # The documented example's resetAt is long past now: no usable time, a floor.
    assert info.value.given is False


def test_429_retry_after_header_wins():
    with pytest.raises(RateLimitedError) as info:
        parse(REELBOT_RATE_LIMITED, 429, {"retry-after": "12"})
    assert info.value.retry_at != parse_time("2025-01-21T16:35:00.000Z").timestamp()


@pytest.mark.parametrize(
    "code, cls, exit_code",
    [("INVALID_PROJECT_ID", UsageError, ExitCode.USAGE),
     ("VALIDATION_ERROR", UsageError, ExitCode.USAGE),
     ("QUOTA_EXCEEDED", AuthError, ExitCode.AUTH),
     ("KEY_LIMIT_REACHED", AuthError, ExitCode.AUTH),
     ("INTERNAL_ERROR", UnavailableError, ExitCode.UNAVAILABLE),
     ("CONFIG_ERROR", UnavailableError, ExitCode.UNAVAILABLE),
     ("SERVICE_UNAVAILABLE", UnavailableError, ExitCode.UNAVAILABLE)],
)
def test_other_documented_codes(code, cls, exit_code):
    body = {"success": False, "message": "Words from Reelbot", "code": code}
    with pytest.raises(cls) as info:
        parse(body, REELBOT_OTHER_ERRORS[code])
    assert info.value.exit_code == exit_code
    assert "Words from Reelbot" in info.value.message and code in info.value.message


def test_quota_says_quota():
    with pytest.raises(AuthError, match="quota"):
        parse({"success": False, "message": "Monthly quota used", "code": "QUOTA_EXCEEDED"}, 402)


def test_code_decides_over_http_status():
    with pytest.raises(NotFoundError):
        parse(REELBOT_NOT_FOUND, 400)
    with pytest.raises(AuthError):
        parse(REELBOT_UNAUTHORIZED, 200)


def test_html_error_pages_keep_their_status():
    with pytest.raises(UnavailableError, match="HTTP 502"):
        parse(b"<html>bad gateway</html>", 502)
    with pytest.raises(AuthError):
        parse(b"", 401)


@pytest.mark.parametrize(
    "body", [[], None, 1, "completed", {}, {"status": 1}, {"success": False},
             {"success": True, "data": None}],
)
def test_wrong_shapes(body):
    with pytest.raises(UnavailableError):
        parse(body)


def test_wrapped_status_is_accepted():
    assert parse({"success": True, "data": REELBOT_COMPLETED}).state is State.DONE


# ---- the download follow-up ----------------------------------------------------------
def done_job():
    return parse(REELBOT_COMPLETED)


def test_followup_only_for_done_jobs_without_url():
    assert P.followup_request(done_job()) == Request(f"/api/v1/video/download/{REELBOT_ID}")
    for body in (REELBOT_QUEUED, REELBOT_PROCESSING, REELBOT_FAILED):
        assert P.followup_request(parse(body)) is None
    assert P.followup_request(done_job().with_(url="https://x/v.mp4")) is None


def test_apply_followup():
    job = P.apply_followup(done_job(), answer(REELBOT_DOWNLOAD), NOW)
    url = REELBOT_DOWNLOAD["downloadUrl"]
    assert job.url == url
    assert job.outputs == (Output("video", url),)
    assert job.extra["url_expires_at"] == "2025-01-21T17:33:30.000Z"
    assert job.state is State.DONE and job.status == "completed"
    assert P.followup_request(job) is None


def test_apply_followup_without_expiry_assumes_an_hour():
    job = P.apply_followup(done_job(), answer(variant(REELBOT_DOWNLOAD, expiresAt=REMOVE)), NOW)
    assert job.extra["url_expires_at"] == iso_utc(NOW + timedelta(hours=1))


def test_apply_followup_keeps_other_extra():
    job = done_job().with_(extra={"seen": 1})
    assert P.apply_followup(job, answer(REELBOT_DOWNLOAD), NOW).extra["seen"] == 1


@pytest.mark.parametrize(
    "body, status",
    [(REELBOT_VIDEO_NOT_READY, 400), (REELBOT_OUTPUT_NOT_FOUND, 404),
     (REELBOT_NOT_FOUND, 404), (b"", 404)],
)
def test_no_link_leaves_the_job_as_it_is(body, status):
    job = done_job()
    after = P.apply_followup(job, answer(body, status), NOW)
    assert after is job and after.url is None


def test_followup_rate_limited():
    with pytest.raises(RateLimitedError) as info:
        P.apply_followup(done_job(), answer(REELBOT_RATE_LIMITED, 429, {"retry-after": "60"}), NOW)
    assert info.value.job == f"reelbot:{REELBOT_ID}"


def test_followup_auth_and_garbage():
    with pytest.raises(AuthError):
        P.apply_followup(done_job(), answer(REELBOT_UNAUTHORIZED, 401), NOW)
    for bad in ({}, {"success": True, "downloadUrl": 3}, [], b"nope"):
        with pytest.raises(UnavailableError):
            P.apply_followup(done_job(), answer(bad), NOW)
