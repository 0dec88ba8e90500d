"""Luma (built in as data): GET /generations/{id} and the limit/offset list, from
lumalabs/lumaai-api's openapi.yaml."""

from __future__ import annotations

import pytest

from jobpoll.errors import AuthError, NotFoundError
from jobpoll.model import JobError, Output, State
from jobpoll.providers import get_provider
from jobpoll.providers.base import Answer, Request

from .payloads import NOW, answer

P = get_provider("luma")
GID = "7e4fe07f-1dfd-4921-bc97-4bcf5adea39a"
CDN = f"https://storage.cdn-luma.com/dream_machine/{GID}"


def generation(state, assets=None, **extra):
    return {"id": GID, "generation_type": "video", "state": state, "failure_reason": None,
            "created_at": "2024-09-24T19:04:10.254Z", "assets": assets, "model": "ray-2",
            "request": {"prompt": "a tiger"}, **extra}


def parse(body, status=200):
    return P.parse_status(GID, answer(body, status), NOW)


def test_settings_and_request():
    assert P.default_base_url == "https://api.lumalabs.ai/dream-machine/v1"
    assert P.status_request(GID) == Request(f"/generations/{GID}")
    assert P.auth_headers("luma-x") == {"Authorization": "Bearer luma-x"}


@pytest.mark.parametrize("word, state", [
    ("queued", State.QUEUED), ("dreaming", State.RUNNING), ("completed", State.DONE), ("failed", State.FAILED),
])
def test_every_documented_word(word, state):
    job = parse(generation(word))  # assets null: read safely
    assert (job.state, job.status, job.url) == (state, word, None)


def test_video_and_image_assets():
    job = parse(generation("completed", {"video": f"{CDN}/video.mp4", "progress_video": f"{CDN}/p.mp4"}))
    assert job.url == f"{CDN}/video.mp4" and job.outputs == (Output("video", f"{CDN}/video.mp4"),)
    image = parse(generation("completed", {"image": f"{CDN}/image.jpg"}, generation_type="image"))
    assert image.url == f"{CDN}/image.jpg" and image.outputs == (Output("image", f"{CDN}/image.jpg"),)


def test_failure_reason():
    job = parse(generation("failed", failure_reason="prompt not allowed"))
    assert job.error == JobError(None, "prompt not allowed")


def test_error_answers():
    with pytest.raises(AuthError, match="Invalid API key"):
        parse({"detail": "Invalid API key"}, 401)
    with pytest.raises(NotFoundError):
        parse({"detail": "Generation not found"}, 404)


def test_list_pages_by_offset_while_has_more():
    first = P.list_request(since=None, until=None, state=None, limit=500, cursor=None)
    assert first == Request("/generations", {"limit": "100"})
    url = "https://api.lumalabs.ai/dream-machine/v1/generations?limit=2&offset=4"
    body = {"generations": [generation("completed"), generation("dreaming", id="x")],
            "has_more": True, "count": 2, "limit": 2, "offset": 4}
    page = P.parse_list(Answer(200, {}, answer(body).body, url), NOW)
    assert [j.state for j in page.jobs] == [State.DONE, State.RUNNING] and page.cursor == "6"
    assert P.list_request(since=None, until=None, state=None, limit=2, cursor="6") == Request(
        "/generations", {"limit": "2", "offset": "6"})
    end = P.parse_list(Answer(200, {}, answer(dict(body, has_more=False)).body, url), NOW)
    assert end.cursor is None
