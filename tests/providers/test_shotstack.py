"""Shotstack (built in as data): GET /render/{id} read from the documented RenderResponse."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError, UsageError
from jobpoll.model import JobError, Output, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import Request

from .payloads import NOW, answer, variant

P = get_provider("shotstack")
RID = "d2b46ed6-998a-4d6b-9d91-b8cf0193a655"
OUT = "https://shotstack-api-v1-output.s3-ap-southeast-2.amazonaws.com/msgtwx8iw6/" + RID
# derived from shotstack/oas-api-definition's RenderResponse example
DONE = {
    "success": True, "message": "OK",
    "response": {
        "id": RID, "owner": "msgtwx8iw6", "plan": "basic", "status": "done", "error": "",
        "duration": 8.5, "billable": 9, "renderTime": 9784.25,
        "url": OUT + ".mp4", "poster": OUT + "-poster.jpg", "thumbnail": OUT + "-thumb.jpg",
        "data": {"timeline": {}, "output": {"format": "mp4"}},
        "created": "2020-10-30T09:42:29.446Z", "updated": "2020-10-30T09:42:39.168Z",
    },
}


def parse(body, status=200):
    return P.parse_status(RID, answer(body, status), NOW)


def in_progress(word):
    return variant(DONE, "response", status=word, url=None, poster=None, thumbnail=None)


def test_settings_and_request():
    assert P.default_base_url == "https://api.shotstack.io/edit/v1"
    assert P.auth_headers("k") == {"x-api-key": "k"}
    assert P.status_request(RID) == Request(f"/render/{RID}")
    assert P.default_interval == 5.0 and P.supports_list is False


def test_ids_are_uuids():
    P.check_id(RID)
    with pytest.raises(UsageError, match="Shotstack render ID"):
        P.check_id("abc123")


@pytest.mark.parametrize("word, state", [
    ("queued", State.QUEUED), ("fetching", State.RUNNING), ("preprocessing", State.RUNNING),
    ("rendering", State.RUNNING), ("saving", State.RUNNING), ("done", State.DONE),
    ("failed", State.FAILED), ("rendering-v2", State.UNKNOWN),
])
def test_every_documented_word(word, state):
    job = parse(in_progress(word) if word != "done" else DONE)
    assert (job.state, job.status) == (state, word)
    assert job.progress == (100.0 if state is State.DONE else None)  # Shotstack reports none


def test_done_has_video_poster_and_thumbnail():
    job = parse(DONE)
    assert job.url == OUT + ".mp4"
    assert job.outputs == (Output("video", OUT + ".mp4"), Output("image", OUT + "-poster.jpg"),
                           Output("thumbnail", OUT + "-thumb.jpg"))
    assert (job.created_at, job.ended_at, job.duration) == (
        "2020-10-30T09:42:29.446Z", "2020-10-30T09:42:39.168Z", 8.5)
    assert job.error is None


def test_failed_carries_the_error():
    job = parse(variant(in_progress("failed"), "response", error="Asset could not be fetched"))
    assert job.error == JobError(None, "Asset could not be fetched")
    assert job.url is None and job.ended_at == "2020-10-30T09:42:39.168Z"


def test_failed_without_a_reason_still_says_it_failed():
    assert parse(in_progress("failed")).error == JobError(None, "the job failed")


@pytest.mark.parametrize("status, error", [
    (401, AuthError), (403, AuthError), (404, NotFoundError), (429, RateLimitedError),
    (400, UsageError), (502, UnavailableError),
])
def test_http_errors(status, error):
    with pytest.raises(error) as caught:
        parse({"success": False, "message": "Forbidden", "response": {}}, status)
    assert caught.value.job == f"shotstack:{RID}"
    if status in (401, 403):
        assert "Forbidden" in caught.value.message and "set-key shotstack" in caught.value.line()


def test_an_answer_without_a_status_is_retried_not_a_failure():
    with pytest.raises(UnavailableError, match="status.state"):
        parse({"success": True, "message": "OK", "response": {}})
