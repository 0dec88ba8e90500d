"""Creatomate (built in as data): GET /v1/renders/{id}, the documented render object."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError
from jobpoll.model import JobError, Output, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import RateBudget, Request

from .payloads import NOW, REMOVE, answer, variant

P = get_provider("creatomate")
RID = "a862048b-e45a-4ecd-8fbc-1e7c7f4e1b6a"
# derived from creatomate.com's API reference (the render object)
SUCCEEDED = {
    "id": RID, "status": "succeeded",
    "url": f"https://cdn.creatomate.com/renders/{RID}.mp4",
    "snapshot_url": f"https://cdn.creatomate.com/snapshots/{RID}.jpg",
    "template_id": "8f0d4b3a-0b7d-4c5a-9d6f-6a1c2b3d4e5f", "template_name": "Promo",
    "template_tags": [], "output_format": "mp4", "render_scale": 1,
    "width": 1280, "height": 720, "frame_rate": 25, "duration": 12.5, "file_size": 1843200,
    "modifications": {},
}


def parse(body, status=200):
    return P.parse_status(RID, answer(body, status), NOW)


def test_settings_and_request():
    assert P.default_base_url == "https://api.creatomate.com"
    assert P.auth_headers("k") == {"Authorization": "Bearer k"}
    assert P.status_request(RID) == Request(f"/v1/renders/{RID}")
    assert P.budget == RateBudget(30, 10.0)  # 30 requests per 10 s per account


@pytest.mark.parametrize("word, state", [
    ("planned", State.QUEUED), ("waiting", State.QUEUED), ("transcribing", State.RUNNING),
    ("rendering", State.RUNNING), ("succeeded", State.DONE), ("failed", State.FAILED),
])
def test_every_documented_word(word, state):
    job = parse(variant(SUCCEEDED, status=word, snapshot_url=REMOVE))
    assert (job.state, job.status) == (state, word)


@pytest.mark.parametrize("word", ["planned", "rendering", "failed"])
def test_url_is_not_an_output_before_success(word):
    # Documented: `url` is always present but valid only once succeeded.
    job = parse(variant(SUCCEEDED, status=word, snapshot_url=REMOVE))
    assert job.url is None and job.outputs == ()


def test_succeeded_has_video_and_snapshot():
    job = parse(SUCCEEDED)
    assert job.url == SUCCEEDED["url"] and job.progress == 100.0 and job.duration == 12.5
    assert job.outputs == (Output("video", SUCCEEDED["url"]), Output("thumbnail", SUCCEEDED["snapshot_url"]))


def test_failed_carries_error_message():
    job = parse(variant(SUCCEEDED, status="failed", snapshot_url=REMOVE,
                        error_message="The source could not be downloaded."))
    assert job.error == JobError(None, "The source could not be downloaded.")


def test_error_answers():
    with pytest.raises(AuthError, match="Invalid API key"):
        parse({"hint": "Invalid API key", "message": "Invalid API key"}, 401)
    with pytest.raises(NotFoundError, match="was not found"):
        parse({"message": "The render was not found."}, 404)
