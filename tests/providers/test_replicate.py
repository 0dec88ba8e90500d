"""Replicate (built in as data): GET /v1/predictions/{id} and the list, from the
documented prediction object."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError, RateLimitedError
from jobpoll.model import JobError, Output, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import Answer, Request

from .payloads import NOW, answer, variant

P = get_provider("replicate")
PID = "gm3qorzdhgbfurvjtvhg6dckhu"
# documented (replicate.com HTTP API reference, "Get a prediction")
SUCCEEDED = {
    "id": PID, "model": "replicate/hello-world",
    "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
    "input": {"text": "Alice"}, "logs": "", "output": "hello Alice", "data_removed": False,
    "error": None, "status": "succeeded", "created_at": "2023-09-08T16:19:34.765994Z",
    "started_at": "2023-09-08T16:19:34.779176Z", "completed_at": "2023-09-08T16:19:34.791859Z",
    "urls": {"cancel": f"https://api.replicate.com/v1/predictions/{PID}/cancel",
             "get": f"https://api.replicate.com/v1/predictions/{PID}",
             "web": f"https://replicate.com/p/{PID}"},
    "metrics": {"predict_time": 0.012683},
}
VIDEO = "https://replicate.delivery/xezq/abc/output.mp4"


def parse(body, status=200):
    return P.parse_status(PID, answer(body, status), NOW)


def test_settings_and_request():
    assert P.default_base_url == "https://api.replicate.com"
    assert P.auth_headers("r8_x") == {"Authorization": "Bearer r8_x"}
    assert P.status_request(PID) == Request(f"/v1/predictions/{PID}")
    P.check_id(PID)


@pytest.mark.parametrize("word, state", [
    ("starting", State.QUEUED), ("processing", State.RUNNING), ("succeeded", State.DONE),
    ("failed", State.FAILED), ("canceled", State.CANCELLED), ("aborted", State.CANCELLED),
])
def test_every_documented_word(word, state):
    job = parse(variant(SUCCEEDED, status=word, output=None))
    assert (job.state, job.status) == (state, word)


@pytest.mark.parametrize("output, outputs", [
    (VIDEO, [Output("video", VIDEO)]),
    (["https://r.example/a.png", "https://r.example/b.png"],
     [Output("image", "https://r.example/a.png"), Output("image", "https://r.example/b.png")]),
    ({"video": VIDEO, "audio": "https://r.example/a.wav"},
     [Output("video", VIDEO), Output("audio", "https://r.example/a.wav")]),
    ("hello Alice", []),  # a text model's output is no URL
])
def test_output_is_a_string_a_list_or_an_object(output, outputs):
    job = parse(variant(SUCCEEDED, output=output))
    assert list(job.outputs) == outputs
    assert job.url == (outputs[0].url if outputs else None)


def test_times_and_error():
    job = parse(variant(SUCCEEDED, status="failed", output=None, error="CUDA out of memory"))
    assert job.error == JobError(None, "CUDA out of memory")
    assert (job.created_at, job.ended_at) == ("2023-09-08T16:19:34.765Z", "2023-09-08T16:19:34.791Z")


def test_removed_data_is_said():
    job = parse(variant(SUCCEEDED, output=None, data_removed=True, input=None))
    assert job.state is State.DONE and job.url is None
    assert "removed the output" in job.message


def test_errors_read_detail():
    with pytest.raises(AuthError, match="valid authentication token"):
        parse({"title": "Unauthenticated", "detail": "You did not pass a valid authentication token",
               "status": 401}, 401)
    with pytest.raises(NotFoundError):
        parse({"title": "Not found", "detail": "Not found.", "status": 404}, 404)
    with pytest.raises(RateLimitedError, match="throttled"):
        parse({"detail": "Request was throttled. Your rate limit resets in ~30s.", "status": 429}, 429)


def test_list_follows_the_cursor_of_the_next_url_on_the_configured_host():
    assert P.supports_list
    first = P.list_request(since=None, until=None, state=None, limit=50, cursor=None)
    assert first == Request("/v1/predictions", {})
    body = {"previous": None, "results": [SUCCEEDED, variant(SUCCEEDED, id="x" * 26, status="processing")],
            "next": "https://evil.example/v1/predictions?cursor=cD0yMDIyLTAx"}
    page = P.parse_list(Answer(200, {}, answer(body).body), NOW)
    assert [(j.id, j.state) for j in page.jobs] == [(PID, State.DONE), ("x" * 26, State.RUNNING)]
    # Only the cursor is taken from the URL: the next request goes to the configured base URL.
    assert page.cursor == "cD0yMDIyLTAx"
    assert P.list_request(since=None, until=None, state=None, limit=50, cursor=page.cursor) == Request(
        "/v1/predictions", {"cursor": "cD0yMDIyLTAx"})
    last = P.parse_list(answer({"previous": None, "next": None, "results": []}), NOW)
    assert last.jobs == [] and last.cursor is None


def test_an_unreadable_next_url_is_a_transient_failure_not_a_crash():
    from jobpoll.errors import UnavailableError

    with pytest.raises(UnavailableError, match="next-page URL"):
        P.parse_list(answer({"previous": None, "next": "http://[::1", "results": []}), NOW)


def test_the_list_is_newest_first_so_paging_may_stop_at_since():
    # Documented order for Replicate; Luma's is not documented, so it is paged to the end.
    assert P.list_newest_first is True
    assert get_provider("luma").list_newest_first is False
