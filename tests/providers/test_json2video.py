"""json2video: requests, the state mapping, the 15-minute rule, errors, listing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobpoll.errors import (
    AuthError,
    JobpollError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UsageError,
)
from jobpoll.exits import ExitCode
from jobpoll.model import JobError, Output, State, iso_utc
from jobpoll.providers import get_provider
from jobpoll.providers.base import RateBudget, Request
from jobpoll.providers.json2video import Json2Video

from .payloads import (
    J2V_DONE,
    J2V_ERROR,
    J2V_ERRORS,
    J2V_ID,
    J2V_LIST,
    J2V_PENDING,
    J2V_RUNNING,
    J2V_UNKNOWN_PROJECT,
    NOW,
    REMOVE,
    answer,
    variant,
)

P = Json2Video()


def parse(body, status=200, now=NOW, job_id=J2V_ID):
    return P.parse_status(job_id, answer(body, status), now)


def created_ago(minutes: float) -> str:
    return iso_utc(NOW - timedelta(minutes=minutes))


# ---- identity -----------------------------------------------------------------
def test_settings():
    assert get_provider("json2video") is not None
    assert P.name == "json2video"
    assert P.default_base_url == "https://api.json2video.com"
    assert P.default_interval == 5.0
    assert P.auth_headers("k") == {"x-api-key": "k"}
    assert P.budget is None
    assert P.supports_list is True
    assert not isinstance(P.budget, RateBudget)


# ---- IDs ----------------------------------------------------------------------
@pytest.mark.parametrize("job_id", [J2V_ID, "A" * 16, "0123456789abcdef"])
def test_valid_ids(job_id):
    P.check_id(job_id)


@pytest.mark.parametrize(
    "job_id",
    ["../x", "a/b", "with space", "a" * 129, "JkGxEoPRF9EgRb3", "JkGxEoPRF9EgRb32X",
     "JkGxEoPRF9EgRb3_", "JkGxEoPRF9EgRb3.", "", "JkGxEoPRF9EgRb3\n"],
)
def test_invalid_ids(job_id):
    with pytest.raises(UsageError) as info:
        P.check_id(job_id)
    assert info.value.exit_code == ExitCode.USAGE


def test_invalid_id_message_says_what_is_valid():
    with pytest.raises(UsageError, match="16 letters and digits"):
        P.check_id("JkGxEoPRF9EgRb3")


def test_status_request():
    assert P.status_request(J2V_ID) == Request("/v2/movies", {"project": J2V_ID})


# ---- the documented done example -----------------------------------------------
def test_done_example():
    job = parse(J2V_DONE)
    movie = J2V_DONE["movie"]
    assert job.provider == "json2video" and job.id == J2V_ID
    assert job.state is State.DONE and job.terminal
    assert job.status == "done"
    assert job.progress == 100
    assert job.message is None  # "" is no message
    assert job.url == movie["url"]
    assert job.outputs == (Output("video", movie["url"]), Output("subtitles", movie["ass"]))
    assert job.error is None
    assert job.created_at == "2026-05-12T07:41:41.946Z"
    assert job.ended_at == "2026-05-12T07:44:57.108Z"
    assert job.updated_at is None
    assert job.duration == 108.2
    assert job.checked_at == iso_utc(NOW) == "2026-05-12T08:00:00.000Z"
    assert job.raw == J2V_DONE["movie"]  # the job object, as a listing gives it


# ---- state mapping ---------------------------------------------------------------
@pytest.mark.parametrize(
    "body, state",
    [(J2V_PENDING, State.QUEUED), (J2V_RUNNING, State.RUNNING), (J2V_DONE, State.DONE),
     (J2V_ERROR, State.FAILED)],
)
def test_state_mapping(body, state):
    job = parse(body)
    assert job.state is state
    assert job.status == body["movie"]["status"]


def test_pending_has_no_outputs_and_no_progress():
    job = parse(J2V_PENDING)
    assert job.outputs == () and job.url is None and job.progress is None
    assert job.ended_at is None


def test_error_is_a_failed_job_with_the_message():
    job = parse(J2V_ERROR)
    assert job.state is State.FAILED
    assert job.error == JobError(None, J2V_ERROR["movie"]["message"])
    assert job.message == J2V_ERROR["movie"]["message"]


def test_unknown_project_answered_200_error_stays_failed():
    # Documented: a project the database does not know is a 200 with status "error".
    job = parse(J2V_UNKNOWN_PROJECT, job_id="AAAAAAAAAAAAAAAA")
    assert job.state is State.FAILED
    assert job.error.message == "Project not found"


def test_error_without_message_still_has_an_error():
    job = parse(variant(J2V_ERROR, "movie", message=""))
    assert job.error.message


def test_unknown_status_word_is_unknown_not_terminal():
    job = parse(variant(J2V_DONE, "movie", status="exploding"))
    assert job.state is State.UNKNOWN and not job.terminal
    assert job.status == "exploding"


def test_server_sent_timeout_word():
    assert parse(variant(J2V_RUNNING, "movie", status="timeout")).state is State.TIMEOUT


# ---- the 15-minute rule ------------------------------------------------------------
def test_running_14_minutes_is_running():
    job = parse(variant(J2V_RUNNING, "movie", created_at=created_ago(14)))
    assert job.state is State.RUNNING and job.error is None


def test_running_16_minutes_is_timeout():
    job = parse(variant(J2V_RUNNING, "movie", created_at=created_ago(16)))
    assert job.state is State.TIMEOUT and job.terminal
    assert job.status == "running"  # the provider's word, verbatim
    assert "15 minutes" in job.error.message


def test_exactly_15_minutes_is_still_running():
    # "more than 15 minutes old"
    assert parse(variant(J2V_RUNNING, "movie", created_at=created_ago(15))).state is State.RUNNING


def test_rule_is_relative_to_now_and_accepts_offsets():
    body = variant(J2V_RUNNING, "movie", created_at="2026-05-12T09:40:00+02:00")  # 07:40Z
    assert parse(body).state is State.TIMEOUT
    assert parse(body, now=NOW - timedelta(minutes=10)).state is State.RUNNING


def test_rule_applies_only_to_running():
    old = created_ago(120)
    assert parse(variant(J2V_PENDING, "movie", created_at=old)).state is State.QUEUED
    assert parse(variant(J2V_DONE, "movie", created_at=old)).state is State.DONE


def test_running_without_created_at_stays_running():
    assert parse(variant(J2V_RUNNING, "movie", created_at=REMOVE)).state is State.RUNNING
    assert parse(variant(J2V_RUNNING, "movie", created_at="yesterday")).state is State.RUNNING


def test_naive_now_is_taken_as_utc():
    body = variant(J2V_RUNNING, "movie", created_at=created_ago(16))
    assert parse(body, now=NOW.replace(tzinfo=None)).state is State.TIMEOUT


# ---- fields ------------------------------------------------------------------------
def test_ass_false_means_no_subtitles():
    job = parse(variant(J2V_DONE, "movie", ass=False))
    assert job.outputs == (Output("video", J2V_DONE["movie"]["url"]),)


@pytest.mark.parametrize(
    "value, expected", [(42, 42.0), (12.5, 12.5), ("42", 42.0), (150, 100.0), (-5, 0.0),
                        ("lots", None), (None, None), (True, None)],
)
def test_progress_field(value, expected):
    assert parse(variant(J2V_RUNNING, "movie", progress=value)).progress == expected


def test_values_beyond_float_and_datetime_range_are_absent():
    body = variant(J2V_RUNNING, "movie", progress=10**400, duration=10**400,
                   created_at="0001-01-01T00:00:00+05:00", ended_at="9999-12-31T23:59:59-05:00")
    job = parse(body)
    assert job.state is State.RUNNING
    assert job.progress is None and job.duration is None
    assert job.created_at is None and job.ended_at is None


def test_done_is_100_whatever_progress_says():
    assert parse(variant(J2V_DONE, "movie", progress=30)).progress == 100


def test_non_string_url_is_ignored():
    job = parse(variant(J2V_DONE, "movie", url=12345, ass=["x"]))
    assert job.url is None and job.outputs == ()


def test_duration_as_string_and_garbage():
    assert parse(variant(J2V_DONE, "movie", duration="12.5")).duration == 12.5
    assert parse(variant(J2V_DONE, "movie", duration="long")).duration is None


# ---- errors --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bad_id", "bad_start", "bad_end", "range"])
def test_documented_400s_are_usage_errors_with_the_providers_words(name):
    status, body = J2V_ERRORS[name]
    with pytest.raises(UsageError) as info:
        parse(body, status)
    assert info.value.exit_code == ExitCode.USAGE
    assert body["message"] in info.value.message


def test_documented_403_invalid_token_is_auth():
    status, body = J2V_ERRORS["token"]
    with pytest.raises(AuthError) as info:
        parse(body, status)
    assert info.value.exit_code == ExitCode.AUTH
    assert "Invalid token" in info.value.message


@pytest.mark.parametrize("status", [400, 401, 403])
@pytest.mark.parametrize("text", ["Invalid API key", "api key missing", "Missing x-api-key header",
                                  "The API_KEY is not valid"])
def test_bad_key_seen_as_400_401_403(status, text):
    with pytest.raises(AuthError) as info:
        parse({"success": False, "message": text}, status)
    assert text in info.value.message
    assert info.value.hint and "set-key json2video" in info.value.hint


def test_401_also_means_quota_exceeded():
    with pytest.raises(AuthError) as info:
        parse({"success": False, "message": "Unauthorized"}, 401)
    assert "quota" in info.value.message and "Unauthorized" in info.value.message


def test_401_without_a_body():
    with pytest.raises(AuthError, match="quota"):
        parse(b"", 401)


def test_400_that_says_not_found_is_not_found():
    with pytest.raises(NotFoundError) as info:
        parse({"success": False, "message": "Project not found"}, 400)
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "Project not found" in info.value.message


def test_400_with_an_internal_error_is_usage_with_its_text():
    text = "Cannot read properties of undefined (reading 'status')"
    with pytest.raises(UsageError) as info:
        parse({"success": False, "message": text}, 400)
    assert text in info.value.message


def test_error_field_instead_of_message():
    with pytest.raises(UsageError, match="Invalid start date"):
        parse({"success": False, "error": "Invalid start date"}, 400)


def test_errors_name_the_job():
    with pytest.raises(UsageError) as info:
        parse(*reversed(J2V_ERRORS["bad_end"]))
    assert info.value.job == f"json2video:{J2V_ID}"


@pytest.mark.parametrize(
    "status, cls, code",
    [(404, NotFoundError, ExitCode.NOT_FOUND), (429, RateLimitedError, ExitCode.UNAVAILABLE),
     (500, UnavailableError, ExitCode.UNAVAILABLE), (503, UnavailableError, ExitCode.UNAVAILABLE)],
)
def test_other_statuses(status, cls, code):
    with pytest.raises(cls) as info:
        parse({"success": False, "message": "something"}, status)
    assert info.value.exit_code == code
    assert "something" in info.value.message


def test_html_error_page_keeps_its_status():
    with pytest.raises(UnavailableError, match="HTTP 502"):
        parse(b"<html>Bad gateway</html>", 502)
    with pytest.raises(AuthError):
        parse(b"<html>Forbidden</html>", 403)


@pytest.mark.parametrize("body", [b"not json", b"", b"\xff\xfe"])
def test_unreadable_200_is_unavailable(body):
    with pytest.raises(UnavailableError):
        parse(body)


@pytest.mark.parametrize(
    "body",
    [[], None, 3, "done", {}, {"success": True}, {"movie": None}, {"movie": []},
     {"movie": {}}, {"movie": {"status": 3}}, {"movie": {"status": None}}],
)
def test_wrong_shapes_are_unavailable(body):
    with pytest.raises(UnavailableError, match="unexpected answer shape"):
        parse(body)


def test_200_success_false_about_the_key_is_auth():
    with pytest.raises(AuthError):
        parse({"success": False, "message": "Invalid API key"})


# ---- listing -----------------------------------------------------------------------
def test_list_request():
    since = datetime(2026, 4, 12, tzinfo=timezone.utc)
    until = datetime(2026, 5, 12, tzinfo=timezone.utc)
    req = P.list_request(since=since, until=until, state=None, limit=50, cursor=None)
    assert req == Request("/v2/movies", {"date_start": "2026-04-12T00:00:00.000Z",
                                         "date_end": "2026-05-12T00:00:00.000Z", "limit": "50"})


def test_list_request_caps_limit_and_passes_the_token():
    since = datetime(2026, 4, 12)  # naive: taken as UTC
    req = P.list_request(since=since, until=None, state="done", limit=500, cursor="AAA")
    assert req.params == {"date_start": "2026-04-12T00:00:00.000Z", "limit": "100",
                          "next_token": "AAA"}


def test_parse_list_documented_example():
    page = P.parse_list(answer(J2V_LIST), NOW)
    assert page.cursor is None
    [job] = page.jobs
    assert job.id == J2V_ID and job.state is State.DONE
    assert job.raw == J2V_LIST["movies"][0]


def test_list_items_parse_exactly_like_a_status_lookup():
    bodies = [J2V_DONE, J2V_PENDING, J2V_ERROR,
              variant(J2V_RUNNING, "movie", created_at=created_ago(16))]
    page = P.parse_list(answer(variant(J2V_LIST, movies=[b["movie"] for b in bodies])), NOW)
    assert page.jobs == [parse(b) for b in bodies]  # Job equality ignores raw


def test_parse_list_cursor():
    more = variant(J2V_LIST, has_next=True, next_token="AAA")
    assert P.parse_list(answer(more), NOW).cursor == "AAA"
    assert P.parse_list(answer(variant(more, has_next=REMOVE)), NOW).cursor == "AAA"
    assert P.parse_list(answer(variant(more, has_next=False)), NOW).cursor is None
    assert P.parse_list(answer(variant(more, next_token="")), NOW).cursor is None


def test_parse_list_skips_items_that_are_no_movie():
    movies = [J2V_DONE["movie"], None, 3, {"status": "done"}, {"project": J2V_ID}]
    page = P.parse_list(answer(variant(J2V_LIST, movies=movies)), NOW)
    assert [j.id for j in page.jobs] == [J2V_ID]


def test_parse_list_makes_jobs_of_the_wanted_projects_only():
    """A watch's list window holds the account's other renders too: they are left
    out before they are parsed (a broken one among them costs nothing either)."""
    other = variant(J2V_PENDING, "movie", project="OtherOtherOther1")["movie"]
    movies = [other, {"project": "BrokenBrokenBrok"}, J2V_DONE["movie"]]
    page = P.parse_list(answer(variant(J2V_LIST, movies=movies)), NOW, wanted={J2V_ID})
    assert [j.id for j in page.jobs] == [J2V_ID] and page.jobs[0] == parse(J2V_DONE)
    assert [j.id for j in P.parse_list(answer(variant(J2V_LIST, movies=movies)), NOW).jobs] == [
        "OtherOtherOther1", J2V_ID]  # without `wanted`: every item that is a movie


def test_parse_list_null_movies_is_empty():
    assert P.parse_list(answer(variant(J2V_LIST, movies=None)), NOW).jobs == []


def test_parse_list_errors():
    status, body = J2V_ERRORS["range"]
    with pytest.raises(UsageError, match="Maximum date range"):
        P.parse_list(answer(body, status), NOW)
    for bad in ({"success": True}, {"movies": "x"}, []):
        with pytest.raises(UnavailableError):
            P.parse_list(answer(bad), NOW)
    with pytest.raises(JobpollError):
        P.parse_list(answer(b"nope"), NOW)


# ---- list windows --------------------------------------------------------------------
def check_windows(since, until, windows):
    assert windows[0][0] == since and windows[-1][1] == until
    for (start, end), (next_start, _) in zip(windows, windows[1:]):
        assert end == next_start  # no gap, no overlap
    for start, end in windows:
        assert timedelta(0) <= end - start <= timedelta(days=93)


def test_list_windows_200_days_is_three():
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    until = since + timedelta(days=200)
    windows = P.list_windows(since, until)
    assert len(windows) == 3
    check_windows(since, until, windows)


@pytest.mark.parametrize("days", [0, 1, 92, 93, 93.001, 186, 187, 365 * 3])
def test_list_windows_various(days):
    since = datetime(2025, 3, 7, 12, 30, tzinfo=timezone.utc)
    until = since + timedelta(days=days)
    windows = P.list_windows(since, until)
    check_windows(since, until, windows)
    assert len(windows) == max(1, -(-timedelta(days=days) // timedelta(days=93)))


def test_list_windows_backwards_is_usage():
    with pytest.raises(UsageError):
        P.list_windows(NOW, NOW - timedelta(days=1))


def test_an_echoed_id_that_spells_apikey_is_not_about_the_key():
    body = {"success": False, "message": "Project ID must be a 16-character string. "
                                         "Received ID: 'myApiKeyProject1x' (length: 17)"}
    with pytest.raises(UsageError):
        parse(body, 400)


def test_apostrophes_do_not_hide_the_words():
    with pytest.raises(NotFoundError):
        parse({"success": False, "message": "Project 'AAAAAAAAAAAAAAAA' doesn't exist"}, 400)
    with pytest.raises(AuthError):
        parse({"success": False, "message": "Can't validate the API key 'abc'"}, 403)


# ---- the documented size of the video ---------------------------------------------
def test_the_documented_size_is_kept_for_the_video_url():
    job = parse(J2V_DONE)
    assert job.extra["output_sizes"] == {J2V_DONE["movie"]["url"]: 6876189}


@pytest.mark.parametrize("size", [None, "6876189", -1, 1.5, True])
def test_a_size_that_is_not_a_byte_count_is_not_kept(size):
    job = parse(variant(J2V_DONE, "movie", size=size))
    assert "output_sizes" not in job.extra
