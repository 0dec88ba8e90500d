"""Muvi: the state mapping, wrapped bodies, outputs, error codes, listing."""

from __future__ import annotations

import pytest

from jobpoll.errors import (
    AuthError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UsageError,
)
from jobpoll.exits import ExitCode
from jobpoll.model import JobError, Output, State
from jobpoll.providers.base import Request
from jobpoll.providers.muvi import Muvi

from .payloads import (
    MUVI_CANCELLED,
    MUVI_COMPLETED,
    MUVI_ERRORS,
    MUVI_FAILED,
    MUVI_ID,
    MUVI_LIST,
    MUVI_PENDING,
    MUVI_PROCESSING,
    MUVI_SCHEMA_PLACEHOLDER,
    MUVI_WRAPPED_COMPLETED,
    NOW,
    REMOVE,
    answer,
    variant,
)

P = Muvi()
BASE = "https://cdn.muvi.video/outputs/job_abc123def456/"


def parse(body, status=200):
    return P.parse_status(MUVI_ID, answer(body, status), NOW)


def test_settings():
    assert P.name == "muvi"
    assert P.default_base_url == "https://api.muvi.video"
    assert P.default_interval == 5.0
    assert P.auth_headers("k") == {"Authorization": "Bearer k"}
    assert P.budget is None and P.supports_list is True


@pytest.mark.parametrize("job_id", [MUVI_ID, "job_xyz789ghi012", "a.b-c_d"])
def test_valid_ids(job_id):
    P.check_id(job_id)


@pytest.mark.parametrize("job_id", ["../x", "a/b", "with space", "a" * 129, "", "a..b"])
def test_invalid_ids(job_id):
    with pytest.raises(UsageError):
        P.check_id(job_id)


def test_status_request():
    assert P.status_request(MUVI_ID) == Request(f"/v1/jobs/{MUVI_ID}")


# ---- state mapping ---------------------------------------------------------------
@pytest.mark.parametrize(
    "body, state",
    [(MUVI_PENDING, State.QUEUED), (MUVI_PROCESSING, State.RUNNING), (MUVI_COMPLETED, State.DONE),
     (MUVI_FAILED, State.FAILED), (MUVI_CANCELLED, State.CANCELLED)],
)
def test_state_mapping(body, state):
    job = parse(body)
    assert job.state is state and job.status == body["status"]
    assert job.raw == body


def test_completed_documented_example():
    job = parse(MUVI_COMPLETED)
    assert job.progress == 100
    assert job.url == BASE + "output_0.mp4"
    assert job.outputs == (
        Output("video", BASE + "output_0.mp4"),
        Output("thumbnail", BASE + "thumb_0.jpg"),
        Output("image", BASE + "poster_0.jpg"),
    )
    assert job.error is None
    assert job.created_at == "2026-02-18T15:00:00.000Z"
    assert job.ended_at == "2026-02-18T15:02:30.000Z"
    assert job.checked_at == "2026-05-12T08:00:00.000Z"


def test_processing_documented_example():
    job = parse(MUVI_PROCESSING)
    assert job.progress == 50 and job.url is None and job.outputs == ()
    assert job.ended_at is None and job.error is None


def test_failed_documented_example():
    job = parse(MUVI_FAILED)
    assert job.error == JobError("GENERATION_FAILED", MUVI_FAILED["error"]["message"])
    assert job.ended_at == "2026-02-18T15:01:15.000Z"
    assert job.progress is None  # Muvi's documented 0 on failure is not how far it got


def test_failed_without_error_object_still_has_an_error():
    assert parse(variant(MUVI_FAILED, error=None)).error.message
    assert parse(variant(MUVI_FAILED, error="boom")).error == JobError(None, "boom")


def test_cancelled_has_no_invented_error():
    assert parse(MUVI_CANCELLED).error is None


def test_wrapped_body_is_unwrapped():
    job = parse(MUVI_WRAPPED_COMPLETED)
    assert job == parse(MUVI_COMPLETED)
    assert job.raw == MUVI_COMPLETED  # raw is the unwrapped payload


def test_schema_placeholder_parses_leniently():
    job = parse(MUVI_SCHEMA_PLACEHOLDER)
    assert job.state is State.UNKNOWN and job.status == "<string>"
    assert job.progress == 100  # 123, clamped
    assert job.url is None and job.outputs == () and job.created_at is None


def test_unknown_status_word():
    job = parse(variant(MUVI_PROCESSING, status="uploading"))
    assert job.state is State.UNKNOWN and not job.terminal


@pytest.mark.parametrize("value, expected", [("42", 42.0), (250, 100.0), (-3, 0.0), ({}, None)])
def test_progress_leniency(value, expected):
    assert parse(variant(MUVI_PROCESSING, progress=value)).progress == expected


# ---- outputs ------------------------------------------------------------------------
def test_output_string_when_no_outputs_array():
    job = parse(variant(MUVI_COMPLETED, outputs=None))
    assert job.url == BASE + "output_0.mp4"
    assert job.outputs == (Output("video", BASE + "output_0.mp4"),)


@pytest.mark.parametrize(
    "url, kind", [("https://x/a.png", "image"), ("https://x/a.JPG?sig=1", "image"),
                  ("https://x/a.mp3", "audio"), ("https://x/a.txt", "text"),
                  ("https://x/a.mp4", "video"), ("https://x/a", "video")],
)
def test_output_string_type_from_extension(url, kind):
    job = parse(variant(MUVI_COMPLETED, outputs=None, output=url))
    assert job.outputs == (Output(kind, url),) and job.url == url


def test_image_model_url_is_the_image_not_the_thumbnail():
    body = variant(MUVI_COMPLETED, outputs=[
        {"url": "https://x/img.png", "type": "image", "thumbnail": "https://x/t.jpg"}])
    job = parse(body)
    assert job.url == "https://x/img.png"
    assert job.outputs == (Output("image", "https://x/img.png"), Output("thumbnail", "https://x/t.jpg"))


def test_first_video_wins_over_earlier_image():
    body = variant(MUVI_COMPLETED, outputs=[
        {"url": "https://x/img.png", "type": "image"}, {"url": "https://x/v.mp4", "type": "video"}])
    assert parse(body).url == "https://x/v.mp4"


def test_outputs_items_with_odd_values():
    body = variant(MUVI_COMPLETED, outputs=[
        None, 3, {"url": 5}, {"url": "https://x/v.webm", "type": "hologram"},
        {"type": "video", "thumbnail": "https://x/t.jpg"}])
    job = parse(body)
    assert job.url == "https://x/v.webm"
    assert job.outputs == (Output("video", "https://x/v.webm"), Output("thumbnail", "https://x/t.jpg"))


def test_only_a_thumbnail_is_no_main_url():
    body = variant(MUVI_COMPLETED, output=None, outputs=[{"thumbnail": "https://x/t.jpg"}])
    job = parse(body)
    assert job.url is None and job.outputs == (Output("thumbnail", "https://x/t.jpg"),)


# ---- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code, words",
    [("UNAUTHORIZED", "no valid API key"), ("INVALID_API_KEY", "not valid"),
     ("API_KEY_INACTIVE", "inactive"), ("API_KEY_EXPIRED", "expired"),
     ("IP_NOT_WHITELISTED", "IP address is not whitelisted"),
     ("OPERATION_NOT_ALLOWED", "check_status scope")],
)
def test_auth_codes(code, words):
    status, body = MUVI_ERRORS[code]
    with pytest.raises(AuthError) as info:
        parse(body, status)
    err = info.value
    assert err.exit_code == ExitCode.AUTH
    assert words in err.message
    assert body["error"]["message"] in err.message and code in err.message
    assert "req_0b1c2d" in err.message
    assert "set-key muvi" in err.hint
    assert err.job == f"muvi:{MUVI_ID}"


def test_job_not_found():
    status, body = MUVI_ERRORS["JOB_NOT_FOUND"]
    with pytest.raises(NotFoundError) as info:
        parse(body, status)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "was not found" in info.value.message


def test_code_decides_over_http_status():
    _, body = MUVI_ERRORS["INVALID_API_KEY"]
    with pytest.raises(AuthError):
        parse(body, 400)
    with pytest.raises(AuthError):
        parse(body, 200)  # an error envelope delivered with 200


@pytest.mark.parametrize(
    "status, cls", [(400, UsageError), (404, NotFoundError), (429, RateLimitedError),
                    (500, UnavailableError), (401, AuthError), (403, AuthError)],
)
def test_unknown_codes_fall_back_on_http_status(status, cls):
    with pytest.raises(cls) as info:
        parse({"success": False, "error": {"code": "NEW_THING", "message": "Odd"}, "requestId": "r1"},
              status)
    assert "Odd" in info.value.message and "NEW_THING" in info.value.message


def test_rate_limit_honours_retry_after():
    with pytest.raises(RateLimitedError) as info:
        P.parse_status(MUVI_ID, answer({"success": False}, 429, {"retry-after": "30"}), NOW)
    assert info.value.retry_at > 0


def test_error_body_not_json_keeps_status():
    with pytest.raises(AuthError):
        parse(b"nope", 401)
    with pytest.raises(UnavailableError):
        parse(b"nope", 503)


@pytest.mark.parametrize(
    "body", [[], None, 0, "x", {}, {"success": True, "data": {}}, {"status": None},
             {"success": False}, {"success": True, "data": None}],
)
def test_wrong_shapes(body):
    with pytest.raises(UnavailableError):
        parse(body)


# ---- listing -------------------------------------------------------------------------------
def test_list_request():
    req = P.list_request(since=None, until=None, state=None, limit=20, cursor=None)
    assert req == Request("/v1/jobs", {"limit": "20"})


@pytest.mark.parametrize(
    "state, word", [("queued", "pending"), ("running", "processing"), ("done", "completed"),
                    ("failed", "failed"), ("cancelled", "cancelled"), (State.DONE, "completed")],
)
def test_list_request_status_filter(state, word):
    req = P.list_request(since=None, until=None, state=state, limit=500, cursor="c1")
    assert req.params == {"limit": "100", "cursor": "c1", "status": word}


@pytest.mark.parametrize("state", ["timeout", "expired", "unknown", "nonsense"])
def test_list_request_unfilterable_state(state):
    with pytest.raises(UsageError, match="muvi cannot filter"):
        P.list_request(since=None, until=None, state=state, limit=20, cursor=None)


def test_parse_list_documented_example():
    page = P.parse_list(answer(MUVI_LIST), NOW)
    assert page.cursor == MUVI_LIST["nextCursor"]
    assert [j.id for j in page.jobs] == ["job_abc123def456", "job_xyz789ghi012"]
    first = page.jobs[0]
    assert first.state is State.DONE and first.progress == 100
    assert first.url is None and first.outputs == ()
    assert first.created_at == "2026-02-18T15:00:00.000Z"
    assert first.ended_at == "2026-02-18T15:02:30.000Z"
    assert first.raw["model"] == "google/veo-3.1-fast/text-to-video"


def test_list_items_map_like_a_status_lookup():
    items = [MUVI_PENDING, MUVI_PROCESSING, MUVI_FAILED, MUVI_CANCELLED]
    page = P.parse_list(answer({"jobs": items, "nextCursor": None, "hasMore": False}), NOW)
    assert [(j.state, j.progress, j.error) for j in page.jobs] == [
        (j.state, j.progress, j.error) for j in (parse(i) for i in items)]


def test_parse_list_cursor_rules():
    assert P.parse_list(answer(variant(MUVI_LIST, hasMore=False)), NOW).cursor is None
    assert P.parse_list(answer(variant(MUVI_LIST, nextCursor=None)), NOW).cursor is None
    assert P.parse_list(answer(variant(MUVI_LIST, hasMore=REMOVE)), NOW).cursor == MUVI_LIST["nextCursor"]


def test_parse_list_wrapped_and_odd_items():
    body = {"success": True, "requestId": "r", "data": variant(MUVI_LIST, jobs=[
        MUVI_LIST["jobs"][0], None, {"status": "completed"}, {"jobId": "j1"}])}
    page = P.parse_list(answer(body), NOW)
    assert [j.id for j in page.jobs] == ["job_abc123def456"]


def test_parse_list_errors():
    status, body = MUVI_ERRORS["OPERATION_NOT_ALLOWED"]
    with pytest.raises(AuthError):
        P.parse_list(answer(body, status), NOW)
    for bad in ({}, {"jobs": "x"}, []):
        with pytest.raises(UnavailableError):
            P.parse_list(answer(bad), NOW)
    assert P.parse_list(answer({"jobs": None, "hasMore": False}), NOW).jobs == []


def test_cancelled_with_placeholder_error_has_no_error():
    assert parse(variant(MUVI_CANCELLED, error={})).error is None
    assert parse(variant(MUVI_CANCELLED, error={"code": "USER_CANCELLED"})).error == JobError(
        "USER_CANCELLED", "USER_CANCELLED")
