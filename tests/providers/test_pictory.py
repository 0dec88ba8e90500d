"""Pictory: queued vs running, outputs, failures, cleaned jobs, JOB_NOT_FOUND."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError, UsageError
from jobpoll.exits import ExitCode
from jobpoll.model import JobError, Output, State
from jobpoll.providers.base import Request
from jobpoll.providers.pictory import Pictory

from .payloads import (
    NOW,
    PICTORY_CLEANED,
    PICTORY_COMPLETED,
    PICTORY_COMPLETED_AI_STUDIO,
    PICTORY_FAILED,
    PICTORY_ID,
    PICTORY_NOT_FOUND_IN_DATA,
    PICTORY_NOT_FOUND_TOP,
    PICTORY_QUEUED,
    PICTORY_RUNNING,
    REMOVE,
    answer,
    variant,
)

P = Pictory()


def parse(body, status=200):
    return P.parse_status(PICTORY_ID, answer(body, status), NOW)


def test_settings():
    assert P.name == "pictory"
    assert P.default_base_url == "https://api.pictory.ai"
    assert P.default_interval == 10.0
    assert P.auth_headers("pictai_k") == {"Authorization": "pictai_k"}
    assert P.budget is None and P.supports_list is False


# ---- IDs ----------------------------------------------------------------------
@pytest.mark.parametrize("job_id", [PICTORY_ID, PICTORY_ID.upper(), "00000000-0000-0000-0000-000000000000"])
def test_valid_ids(job_id):
    P.check_id(job_id)


@pytest.mark.parametrize(
    "job_id",
    ["../x", "a/b", "with space", "a" * 129, "JkGxEoPRF9EgRb32", PICTORY_ID[:-1],
     PICTORY_ID + "0", PICTORY_ID.replace("-", ""), "265a7c1a-4985-4058-9208-68114f131a2g",
     "{265a7c1a-4985-4058-9208-68114f131a2b}", ""],
)
def test_invalid_ids(job_id):
    with pytest.raises(UsageError) as info:
        P.check_id(job_id)
    assert info.value.exit_code == ExitCode.USAGE


def test_invalid_id_message_says_what_is_valid():
    with pytest.raises(UsageError, match="UUID"):
        P.check_id("JkGxEoPRF9EgRb32")


def test_status_request():
    assert P.status_request(PICTORY_ID) == Request(f"/pictoryapis/v1/jobs/{PICTORY_ID}")


# ---- state mapping ---------------------------------------------------------------
def test_in_progress_without_render_state_is_queued():
    job = parse(PICTORY_QUEUED)
    assert job.state is State.QUEUED and job.status == "in-progress"
    assert job.progress is None and job.message is None
    assert job.raw == PICTORY_QUEUED["data"]
    assert job.checked_at == "2026-05-12T08:00:00.000Z"


def test_in_progress_with_render_state_is_running():
    job = parse(PICTORY_RUNNING)
    assert job.state is State.RUNNING and job.status == "in-progress"
    assert job.progress == 42
    assert job.message == "Generating video"


def test_render_state_alone_is_running():
    body = variant(PICTORY_RUNNING, "data", renderProgress=REMOVE, renderProgressMessage=REMOVE)
    job = parse(body)
    assert job.state is State.RUNNING and job.progress is None


@pytest.mark.parametrize("value, expected", [("42", 42.0), (101, 100.0), (-1, 0.0), ("x", None)])
def test_render_progress_leniency(value, expected):
    assert parse(variant(PICTORY_RUNNING, "data", renderProgress=value)).progress == expected


def test_completed():
    job = parse(PICTORY_COMPLETED)
    data = PICTORY_COMPLETED["data"]
    assert job.state is State.DONE and job.status == "completed" and job.terminal
    assert job.progress == 100
    assert job.url == data["videoURL"]
    assert job.outputs == (
        Output("video", data["videoURL"]),
        Output("audio", data["audioURL"]),
        Output("thumbnail", data["thumbnail"]),
        Output("subtitles", data["srtFile"]),
        Output("subtitles", data["vttFile"]),
        Output("text", data["txtFile"]),
        Output("page", data["videoShareURL"]),
        Output("page", data["videoEmbedURL"]),
    )
    assert job.duration == 63.5
    assert job.error is None


def test_completed_ai_studio_uses_url():
    job = parse(PICTORY_COMPLETED_AI_STUDIO)
    assert job.state is State.DONE
    assert job.url == PICTORY_COMPLETED_AI_STUDIO["data"]["url"]
    assert job.outputs == (Output("video", job.url),)


def test_completed_progress_is_100_even_without_the_field():
    assert parse(variant(PICTORY_COMPLETED, "data", progress=REMOVE)).progress == 100


def test_failed():
    job = parse(PICTORY_FAILED)
    assert job.state is State.FAILED and job.status == "failed"
    assert job.error == JobError("4001", "Invalid voice name: en-US-Nobody")
    assert job.progress is None and job.url is None


def test_failed_numeric_code_and_missing_message():
    job = parse(variant(PICTORY_FAILED, "data", error_code=4001, error_message=REMOVE))
    assert job.error.code == "4001" and job.error.message


def test_cleaned_is_expired():
    job = parse(PICTORY_CLEANED)
    assert job.state is State.EXPIRED and job.terminal and job.status == "cleaned"


def test_unknown_status_word():
    job = parse(variant(PICTORY_QUEUED, "data", status="paused"))
    assert job.state is State.UNKNOWN and not job.terminal and job.status == "paused"


# ---- JOB_NOT_FOUND, whatever the HTTP status --------------------------------------------
@pytest.mark.parametrize("body", [PICTORY_NOT_FOUND_IN_DATA, PICTORY_NOT_FOUND_TOP])
@pytest.mark.parametrize("status", [200, 400, 404, 500])
def test_job_not_found(body, status):
    with pytest.raises(NotFoundError) as info:
        parse(body, status)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "JOB_NOT_FOUND" in info.value.message
    assert info.value.job == f"pictory:{PICTORY_ID}"


def test_code_5000_alone_is_not_found():
    with pytest.raises(NotFoundError):
        parse({"success": False, "data": {"error_code": 5000}}, 400)


# ---- other errors ------------------------------------------------------------------
@pytest.mark.parametrize("status", [401, 403])
def test_auth(status):
    with pytest.raises(AuthError) as info:
        parse({"message": "Unauthorized"}, status)
    assert info.value.exit_code == ExitCode.AUTH
    assert "Unauthorized" in info.value.message


def test_bot_protection_page_is_auth_without_crashing():
    with pytest.raises(AuthError):
        parse(b"<html>Attention Required! | Cloudflare</html>", 403)


@pytest.mark.parametrize(
    "status, cls", [(404, NotFoundError), (429, RateLimitedError), (500, UnavailableError),
                    (400, UsageError)],
)
def test_other_statuses_carry_the_message(status, cls):
    with pytest.raises(cls) as info:
        parse({"success": False, "data": {"error_code": "1234", "error_message": "Something odd"}}, status)
    assert "Something odd" in info.value.message


@pytest.mark.parametrize(
    "body",
    [[], None, 1.5, "x", {}, {"success": True}, {"data": None}, {"data": []}, {"data": {}},
     {"data": {"status": 7}}],
)
def test_wrong_shapes(body):
    with pytest.raises(UnavailableError, match="unexpected answer shape"):
        parse(body)


def test_unreadable_200():
    with pytest.raises(UnavailableError, match="not JSON"):
        parse(b"<html>")


@pytest.mark.parametrize("given,seconds", [("8s", 8.0), ("1m30s", 90.0), ("12.5", 12.5), (8, 8.0), ("soon", None), ("-3s", None)])
def test_ai_studio_duration_given_as_text_with_a_unit_is_read(given, seconds):
    # AI-Studio answers carry "duration": "8s" where video jobs carry videoDuration: 63.5
    body = variant(PICTORY_COMPLETED_AI_STUDIO, "data", duration=given)
    assert parse(body).duration == (pytest.approx(seconds) if seconds is not None else None)
