"""What one lookup means (engine/lookup.py), with documented payloads and no
network: the steps a lookup takes, what an error means, what a forgotten job
shows. `status` and `watch` both run these rules; the CLI tests show each end."""

from __future__ import annotations

import json
import time

import pytest

from jobpoll.engine.lookup import (
    Failure,
    FollowupLimited,
    Outcome,
    classify,
    job_exit_code,
    run_steps,
    settle,
    steps,
)
from jobpoll.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError
from jobpoll.exits import ExitCode
from jobpoll.model import Job, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import Answer

from providers.payloads import REELBOT_COMPLETED, REELBOT_DOWNLOAD, REELBOT_ID, REELBOT_RATE_LIMITED

REELBOT = get_provider("reelbot")


def answer(status: int, payload, headers=None) -> Answer:
    return Answer(status, headers or {}, json.dumps(payload).encode())


def limited_for(seconds: float) -> Answer:
    return answer(429, REELBOT_RATE_LIMITED, {"retry-after": str(seconds)})


def test_a_finished_reelbot_job_takes_two_requests_and_gets_its_link():
    plan = steps(REELBOT, REELBOT_ID, None, patience=60)
    first = next(plan)
    assert first.path == f"/api/v1/video/status/{REELBOT_ID}"
    follow = plan.send(answer(200, REELBOT_COMPLETED))
    assert follow.path == f"/api/v1/video/download/{REELBOT_ID}"
    with pytest.raises(StopIteration) as done:
        plan.send(answer(200, REELBOT_DOWNLOAD))
    found = done.value.value
    assert found.job.state is State.DONE and found.job.url == REELBOT_DOWNLOAD["downloadUrl"]
    assert found.note is None


def test_a_link_known_from_the_history_is_not_asked_for_again():
    previous = Job("reelbot", REELBOT_ID, State.DONE, "completed", url="https://cdn/x.mp4",
                   extra={"url_expires_at": "2999-01-01T00:00:00.000Z"})
    plan = steps(REELBOT, REELBOT_ID, previous, patience=60)
    next(plan)
    with pytest.raises(StopIteration) as done:
        plan.send(answer(200, REELBOT_COMPLETED))
    assert done.value.value.job.url == "https://cdn/x.mp4"


def test_a_download_link_limited_for_long_leaves_the_job_done_with_a_note():
    plan = steps(REELBOT, REELBOT_ID, None, patience=60)
    next(plan)
    plan.send(answer(200, REELBOT_COMPLETED))
    error = REELBOT.generic_error(limited_for(3600))
    with pytest.raises(StopIteration) as done:
        plan.throw(error)
    found = done.value.value
    assert found.job.state is State.DONE and found.job.url is None
    assert "rate limited for another 60 min" in found.note and f"jobpoll status reelbot:{REELBOT_ID}" in found.note


def test_a_download_link_limited_briefly_is_waited_for_by_this_job_alone():
    plan = steps(REELBOT, REELBOT_ID, None, patience=60)
    next(plan)
    plan.send(answer(200, REELBOT_COMPLETED))
    with pytest.raises(FollowupLimited) as raised:
        plan.throw(REELBOT.generic_error(limited_for(5)))
    assert 0 < raised.value.retry_at - time.time() <= 5


class ScriptedHttp:
    def __init__(self, *answers: Answer):
        self.answers = list(answers)
        self.sent = []

    def get(self, endpoint, request):
        self.sent.append(request.path)
        reply = self.answers.pop(0)
        if reply.status_code == 429:
            raise REELBOT.generic_error(reply)
        return reply


def test_the_sync_driver_runs_the_same_steps():
    http = ScriptedHttp(answer(200, REELBOT_COMPLETED), limited_for(3600))
    found = run_steps(http, None, steps(REELBOT, REELBOT_ID, None, patience=15))
    assert len(http.sent) == 2 and found.job.state is State.DONE and found.note


def test_a_429_on_the_status_request_is_the_callers_to_wait_out():
    http = ScriptedHttp(limited_for(3600))
    with pytest.raises(RateLimitedError) as raised:
        run_steps(http, None, steps(REELBOT, REELBOT_ID, None, patience=15))
    assert not isinstance(raised.value, FollowupLimited)


@pytest.mark.parametrize("exc,kind,code", [
    (RateLimitedError("slow down", retry_at=0.0), Failure.RATE_LIMITED, 6),
    (UnavailableError("HTTP 502"), Failure.TRANSIENT, 6),
    (ValueError("a parser met something new"), Failure.TRANSIENT, 6),
    (NotFoundError("gone"), Failure.FINAL, 4),
    (AuthError("bad key"), Failure.FINAL, 3),
])
def test_what_an_error_means(exc, kind, code):
    got, error = classify(exc, "muvi:job_1")
    assert got is kind and error.exit_code == code and error.job == "muvi:job_1"
    if isinstance(exc, ValueError):
        assert "unexpected ValueError" in error.message


DONE_BEFORE = Job("pictory", "p1", State.DONE, "completed", url="https://cdn/p1.mp4",
                  checked_at="2026-12-01T00:00:00.000Z")


def test_a_forgotten_job_shows_its_stored_ending():
    outcome = settle("pictory:p1", DONE_BEFORE, None, NotFoundError("no such job"))
    assert outcome.error is None and outcome.job is DONE_BEFORE
    assert "no longer knows this job" in outcome.notes[0]
    cleaned = Job("pictory", "p1", State.EXPIRED, "cleaned")
    outcome = settle("pictory:p1", DONE_BEFORE, cleaned, None)
    assert outcome.job is DONE_BEFORE and "removed this job's data" in outcome.notes[0]


def test_without_a_stored_ending_the_error_stands():
    error = NotFoundError("no such job")
    outcome = settle("pictory:p1", None, None, error)
    assert outcome.error is error and outcome.job is None and outcome.notes == []
    assert outcome.exit_code() is ExitCode.NOT_FOUND


def test_an_unknown_status_word_is_warned_of():
    odd = Job("muvi", "j", State.UNKNOWN, "paused")
    assert settle("muvi:j", None, odd, None).warnings == ["muvi:j: unknown status 'paused' from muvi; treated as not finished"]


@pytest.mark.parametrize("state,finished,code", [
    (State.DONE, False, ExitCode.OK),
    (State.FAILED, False, ExitCode.JOB_FAILED),
    (State.EXPIRED, True, ExitCode.JOB_FAILED),
    (State.RUNNING, False, ExitCode.UNFINISHED),
])
def test_a_jobs_part_of_the_exit_status(state, finished, code):
    job = Job("muvi", "j", state, state.value)
    assert job_exit_code(job, finished=finished) is code
    assert Outcome("muvi:j", job=job).exit_code(exit_status=True) is code
    assert Outcome("muvi:j", job=job).exit_code(exit_status=False) is None
