"""Runway (built in as data): GET /v1/tasks/{id} with X-Runway-Version, from
runwayml/sdk-python's TaskRetrieveResponse."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError
from jobpoll.model import JobError, Output, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import Request

from .payloads import NOW, answer

P = get_provider("runway")
TID = "17f20503-6c24-4c16-946b-35dbbce2af2f"
OUT = "https://dnznrvs05pmza.cloudfront.net/17f20503.mp4?_jwt=abc"


def task(status, **extra):
    return {"id": TID, "createdAt": "2024-06-27T19:49:32.334Z", "status": status, **extra}


def parse(body, status=200):
    return P.parse_status(TID, answer(body, status), NOW)


def test_settings_and_request():
    assert P.default_base_url == "https://api.dev.runwayml.com"
    assert P.auth_headers("key_1") == {"Authorization": "Bearer key_1", "X-Runway-Version": "2024-11-06"}
    assert P.status_request(TID) == Request(f"/v1/tasks/{TID}")
    assert P.supports_list is False


@pytest.mark.parametrize("word, state", [
    ("PENDING", State.QUEUED), ("THROTTLED", State.QUEUED), ("RUNNING", State.RUNNING),
    ("SUCCEEDED", State.DONE), ("FAILED", State.FAILED), ("CANCELLED", State.CANCELLED),
])
def test_every_documented_word(word, state):
    job = parse(task(word))
    assert (job.state, job.status) == (state, word)


def test_progress_zero_to_one_reads_as_percent():
    assert parse(task("RUNNING", progress=0.42)).progress == 42.0
    assert parse(task("RUNNING", progress=1.5)).progress == 100.0
    assert parse(task("PENDING")).progress is None


def test_outputs_and_created_at():
    job = parse(task("SUCCEEDED", output=[OUT]))
    assert job.url == OUT and job.outputs == (Output("video", OUT),)
    assert job.created_at == "2024-06-27T19:49:32.334Z" and job.progress == 100.0


def test_failure_and_its_code():
    job = parse(task("FAILED", failure="Content moderation", failureCode="SAFETY.INPUT.TEXT"))
    assert job.error == JobError("SAFETY.INPUT.TEXT", "Content moderation")
    assert parse(task("FAILED", failure="Internal error")).error == JobError(None, "Internal error")


def test_error_answers():
    with pytest.raises(AuthError):
        parse({"error": "Invalid API key"}, 401)
    with pytest.raises(NotFoundError, match="Task not found"):
        parse({"error": "Task not found"}, 404)
