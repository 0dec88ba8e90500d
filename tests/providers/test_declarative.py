"""The declarative provider on small inline definitions: acceptors, HTTP status
overrides, Basic auth, follow-up requests, and the checks on a definition."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from jobpoll.errors import AuthError, NotFoundError, UnavailableError, UsageError
from jobpoll.model import Job, Output, State
from jobpoll.providers.base import Request
from jobpoll.providers.declarative import Declarative
from jobpoll.providers.definition import DefinitionError, parse_definition

from .payloads import NOW, answer


def provider(**changes) -> Declarative:
    data = {
        "base_url": "https://api.example",
        "status": {"path": "/jobs/{id}", "state": "status",
                   "states": {"queued": ["new"], "running": ["busy"], "done": ["ok"], "failed": ["bad"]}},
    }
    for key, value in changes.items():
        if key.startswith("status_"):
            data["status"][key.removeprefix("status_")] = value
        else:
            data[key] = value
    return Declarative(parse_definition("example", Path("/defs/example.toml"), data))


def problems(**changes) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        provider(**changes)
    return caught.value.problems


def test_defaults_bearer_auth_and_five_seconds():
    p = provider()
    assert p.auth_headers("k") == {"Authorization": "Bearer k"} and p.default_interval == 5.0
    assert p.status_request("a1") == Request("/jobs/a1")


def test_basic_auth_and_static_headers():
    p = provider(auth={"basic": True, "format": "api:{key}"}, headers={"X-Version": "7"})
    assert p.auth_headers("s3cret") == {
        "X-Version": "7", "Authorization": "Basic " + base64.b64encode(b"api:s3cret").decode()}


def test_the_id_as_a_query_parameter():
    p = provider(status_path="/jobs", status_params={"job": "{id}", "v": 2})
    assert p.status_request("a1") == Request("/jobs", {"job": "a1", "v": "2"})


def test_acceptors_decide_first_in_order():
    p = provider(status_acceptors=[
        {"path": "error.code", "expected": "no_such_job", "state": "not_found"},
        {"http_status": 400, "path": "detail", "expected": "Unknown job", "state": "not_found"},
        {"http_status": 418, "state": "retry", "message": "the API is brewing"},
        {"http_status": 400, "state": "auth"},
        {"path": "archived", "state": "expired"},
    ])
    with pytest.raises(NotFoundError):
        p.parse_status("a1", answer({"error": {"code": "NO_SUCH_JOB"}}), NOW)  # text compared case-blind
    with pytest.raises(NotFoundError):
        p.parse_status("a1", answer({"detail": "Unknown job"}, 400), NOW)
    with pytest.raises(UnavailableError, match="brewing"):
        p.parse_status("a1", answer({}, 418), NOW)
    with pytest.raises(AuthError):
        p.parse_status("a1", answer({"detail": "who are you"}, 400), NOW)
    job = p.parse_status("a1", answer({"status": "ok", "archived": True}), NOW)
    assert (job.state, job.status) == (State.EXPIRED, "ok")


def test_http_statuses_without_acceptors():
    p = provider(status_answer_error="detail")
    for status, error in ((401, AuthError), (403, AuthError), (404, NotFoundError), (400, UsageError),
                          (503, UnavailableError)):
        with pytest.raises(error, match="went wrong"):
            p.parse_status("a1", answer({"detail": "it went wrong"}, status), NOW)


def test_the_follow_up_request_supplies_the_download():
    p = provider(result={"path": "/jobs/{id}/files", "url": "files[0].href",
                         "outputs": [{"type": "auto", "expr": "files[].href"}]})
    running = Job("example", "a1", State.RUNNING, "busy")
    assert p.followup_request(running) is None
    done = p.parse_status("a1", answer({"status": "ok"}), NOW)
    assert p.followup_request(done) == Request("/jobs/a1/files")
    files = {"files": [{"href": "https://cdn.example/a1.mp4"}, {"href": "https://cdn.example/a1.srt"}]}
    job = p.apply_followup(done, answer(files), NOW)
    assert job.url == "https://cdn.example/a1.mp4"
    assert job.outputs == (Output("video", "https://cdn.example/a1.mp4"), Output("subtitles", "https://cdn.example/a1.srt"))
    with pytest.raises(NotFoundError):
        p.apply_followup(done, answer({}, 404), NOW)


def test_epoch_times_and_unknown_words():
    p = provider(status_created_at="created")
    job = p.parse_status("a1", answer({"status": "thinking", "created": 1764500000}), NOW)
    assert job.state is State.UNKNOWN and job.created_at == "2025-11-30T10:53:20.000Z"


def test_every_problem_is_named():
    found = problems(base_url="nope", interval=0, rate_limit={"requests": 0},
                     status_progress={"expr": "p", "scale": -1}, status_bogus=1,
                     status_acceptors=[{"path": "x[", "state": "done"}],
                     headers={"User-Agent": "me", "X-Token": "{key}"},
                     list={"path": "/jobs", "cursor": {"next": "n"}, "offset": {"param": "o"}})
    keys = [p.split(":")[0] for p in found]
    assert keys == ["base_url", "headers.User-Agent", "headers.X-Token", "interval",
                    "rate_limit.requests", "rate_limit.per", "status.bogus", "status.progress.scale",
                    "status.acceptors[0].path", "list.items", "list"]


def test_the_error_line_lists_the_first_problems_and_points_to_check():
    with pytest.raises(DefinitionError) as caught:
        provider(base_url="nope", interval=0)
    line = caught.value.line()
    assert line.startswith("provider definition /defs/example.toml is not valid: base_url: ")
    assert "jobpoll providers check /defs/example.toml" in line and caught.value.exit_code == 2
