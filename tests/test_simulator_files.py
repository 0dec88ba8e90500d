"""The simulator's file origin: the outputs of simulated jobs, served as a CDN would."""

from __future__ import annotations

import re

import httpx
import pytest

UA = {"User-Agent": "jobpoll/0.1.0"}


def video_url(sim, provider: str, job: str) -> str:
    with httpx.Client(base_url=sim.base_url, headers={**UA, "x-api-key": "k", "X-API-Key": "k",
                                                      "Authorization": "Bearer k"}) as c:
        if provider == "json2video":
            return c.get("/v2/movies", params={"project": job}).json()["movie"]["url"]
        if provider == "muvi":
            return c.get(f"/v1/jobs/{job}").json()["output"]
        return c.get(f"/api/v1/video/download/{job}").json()["downloadUrl"]


def test_output_urls_point_at_the_file_origin_and_serve_the_provider_size(sim):
    job = sim.add_job("json2video", queued=0, running=0, size=123_456)
    url = video_url(sim, "json2video", job)
    assert url.startswith(sim.files_url + "/assets.json2video.com/clients/") and url.endswith(".mp4")
    r = httpx.get(url)
    assert r.status_code == 200 and len(r.content) == 123_456 == int(r.headers["content-length"])
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    assert r.content == sim.file_bytes(url)


def test_ranges_and_past_the_end(sim):
    job = sim.add_job("muvi", queued=0, running=0, file_size=300_000)
    url = video_url(sim, "muvi", job)
    whole = sim.file_bytes(url)
    r = httpx.get(url, headers={"Range": "bytes=100000-"})
    assert r.status_code == 206 and r.headers["content-range"] == "bytes 100000-299999/300000"
    assert r.content == whole[100_000:]
    r = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == whole[10:20]
    r = httpx.get(url, headers={"Range": "bytes=300000-"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */300000"


def test_file_faults_drop_lie_and_refuse(sim):
    job = sim.add_job("muvi", queued=0, running=0, file_size=200_000,
                      file_faults=[{"kind": "drop", "at": 1000}, {"kind": "wrong_length", "delta": -10},
                                   {"kind": "no_range"}, {"kind": "status", "code": 503}])
    url = video_url(sim, "muvi", job)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert len(httpx.get(url).content) == 199_990
    r = httpx.get(url, headers={"Range": "bytes=5-"})
    assert r.status_code == 200 and len(r.content) == 200_000
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 200  # every fault used up


def test_the_file_origin_logs_the_headers_it_got_and_knows_no_other_path(sim):
    job = sim.add_job("reelbot", queued=0, running=0)
    url = video_url(sim, "reelbot", job)
    assert url.startswith(sim.files_url + f"/_files/{job}.mp4?X-Amz-")
    assert httpx.get(url, headers={"X-Probe": "yes"}).status_code == 200
    assert any(r["headers"].get("x-probe") == "yes" for r in sim.requests(origin="files", path="/_files/"))
    assert httpx.get(sim.files_url + "/nothing/here.mp4").status_code == 404
    expired = re.sub(r"X-Amz-Date=\d{8}T\d{6}Z", "X-Amz-Date=20200101T000000Z", url)
    assert httpx.get(expired).status_code == 403


def test_file_origin_off_keeps_the_documented_urls(sim):
    sim.configure(file_origin=False)
    try:
        job = sim.add_job("muvi", queued=0, running=0)
        assert video_url(sim, "muvi", job).startswith("https://cdn.muvi.video/outputs/")
    finally:
        sim.configure(file_origin=True)
