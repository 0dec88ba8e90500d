"""The simulator imitates the four providers as documented (shared/providers/*.txt)."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from jobpoll.simulator import Simulator, seed_demo_jobs

UA = {"User-Agent": "jobpoll/0.1.0"}
J2V = "/v2/movies"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def sim():
    s = Simulator(seed=7)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.base_url, headers=UA, timeout=10) as c:
        yield c


def j2v(client, project, key="sim-key", params=None, **kw):
    return client.get(J2V, params={"project": project, **(params or {})},
                      headers={"x-api-key": key}, **kw)


def pictory(client, job_id, key="sim-key", **kw):
    return client.get(f"/pictoryapis/v1/jobs/{job_id}", headers={"Authorization": key}, **kw)


def muvi(client, job_id, key="sim-key", **kw):
    return client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}, **kw)


def reelbot(client, job_id, key="sim-key", **kw):
    return client.get(f"/api/v1/video/status/{job_id}", headers={"X-API-Key": key}, **kw)


LOOKUP = {"json2video": j2v, "pictory": pictory, "muvi": muvi, "reelbot": reelbot}


def collect(fetch, status_of, final, timeout=6.0):
    """Poll until status_of(body) is in `final`; return the distinct (status, body) seen."""
    seen: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = fetch().json()
        st = status_of(body)
        if not seen or seen[-1][0] != st:
            seen.append((st, body))
        if st in final:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never reached {final}: {[s for s, _ in seen]}")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


# ----------------------------------------------------------------------------- basics

def test_generated_ids_have_the_providers_shapes(sim):
    assert re.fullmatch(r"[A-Za-z0-9]{16}", sim.add_job("json2video"))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        sim.add_job("pictory"))
    assert re.fullmatch(r"job_[0-9a-f]{12}", sim.add_job("muvi"))
    assert re.fullmatch(r"[a-z0-9]{12,}", sim.add_job("reelbot"))
    assert sim.add_job("muvi", "job_given") == "job_given"
    with pytest.raises(ValueError):
        sim.add_job("json2video", "short")
    with pytest.raises(ValueError):
        sim.add_job("pictory", "not-a-uuid")
    with pytest.raises(ValueError):
        sim.add_job("nope")
    with pytest.raises(ValueError):
        sim.add_job("reelbot", outcome="cancelled")
    with pytest.raises(ValueError):
        sim.add_job("muvi", progres="linear")  # typo'd variant
    with pytest.raises(ValueError):
        sim.add_job("muvi", faults=[{"kind": "teapot"}])


def test_same_seed_same_ids():
    a, b = Simulator(seed=3), Simulator(seed=3)
    assert [a.add_job(p) for p in ("json2video", "pictory", "muvi", "reelbot")] == \
           [b.add_job(p) for p in ("json2video", "pictory", "muvi", "reelbot")]


def test_request_log_records_headers_verbatim(sim, client):
    jid = sim.add_job("reelbot")
    reelbot(client, jid, key="rb_live_SECRET", params={"x": "1"})
    (entry,) = sim.requests()
    assert entry["origin"] == "main" and entry["method"] == "GET"
    assert entry["path"] == f"/api/v1/video/status/{jid}"
    assert entry["query"] == {"x": "1"}
    assert entry["headers"]["x-api-key"] == "rb_live_SECRET"
    assert entry["headers"]["user-agent"] == "jobpoll/0.1.0"
    assert entry["status"] == 200 and entry["t"] <= time.time()
    sim.clear_log()
    assert sim.requests() == []


def test_log_is_bounded(sim, client):
    sim.configure(log_size=5)
    for _ in range(8):
        client.get(J2V, headers={"x-api-key": "k"})
    assert len(sim.requests()) == 5


def test_unknown_path_is_404_and_logged(sim, client):
    assert client.get("/nope").status_code == 404
    assert sim.requests()[-1]["path"] == "/nope"


# ----------------------------------------------------------------------------- json2video

def test_json2video_lifecycle(sim, client):
    jid = sim.add_job("json2video", queued=0.3, running=0.5)
    seen = collect(lambda: j2v(client, jid), lambda b: b["movie"]["status"], {"done"})
    assert [s for s, _ in seen] == ["pending", "running", "done"]
    pending, done = seen[0][1], seen[-1][1]
    assert list(done) == ["success", "movie", "remaining_quota"]
    assert done["success"] is True
    assert done["remaining_quota"] == {"movies": 0, "drafts": 0, "time": 1807}
    movie = done["movie"]
    assert list(movie) == ["success", "status", "message", "project", "url", "ass", "created_at",
                           "ended_at", "duration", "size", "width", "height", "rendering_time",
                           "client-data", "consumed_credits"]
    assert movie["success"] is True and movie["project"] == jid
    assert movie["url"].endswith(".mp4") and movie["ass"].endswith(".ass")
    assert ISO_MS.match(movie["created_at"]) and ISO_MS.match(movie["ended_at"])
    assert parse(movie["ended_at"]) > parse(movie["created_at"])
    assert isinstance(movie["duration"], float) and isinstance(movie["size"], int)
    assert isinstance(movie["rendering_time"], int)
    assert movie["client-data"] == {} and movie["consumed_credits"] == []
    p = pending["movie"]
    assert p["url"] is None and p["ass"] is False and p["ended_at"] is None
    assert "progress" not in p


def test_json2video_failure_progress_variant_and_stuck(sim, client):
    bad = sim.add_job("json2video", queued=0, running=0.1, outcome="failed",
                      error_message="Scene 2 is broken")
    prog = sim.add_job("json2video", queued=0, running=100, progress=True,
                       client_data={"order": 42})
    stuck = sim.add_job("json2video", queued=1, running=60, outcome="stuck", age=20 * 60)
    time.sleep(0.2)
    movie = j2v(client, bad).json()["movie"]
    assert movie["status"] == "error" and movie["success"] is False
    assert movie["message"] == "Scene 2 is broken" and movie["url"] is None
    movie = j2v(client, prog).json()["movie"]
    assert movie["status"] == "running" and 0 <= movie["progress"] < 5
    assert movie["client-data"] == {"order": 42}
    movie = j2v(client, stuck).json()["movie"]
    assert movie["status"] == "running"
    age = datetime.now(timezone.utc) - parse(movie["created_at"])
    assert timedelta(minutes=19, seconds=59) < age < timedelta(minutes=20, seconds=5)


def test_json2video_bad_and_unknown_ids(sim, client):
    r = j2v(client, "abc")
    assert r.status_code == 400
    assert r.json() == {"success": False, "message":
                        "Project ID must be a 16-character string. Received ID: 'abc' (length: 3)"}
    r = client.get(J2V, params={"id": "ABCDEFGHIJKLMNOP"}, headers={"x-api-key": "k"})
    assert r.status_code == 200
    movie = r.json()["movie"]
    assert movie["status"] == "error" and movie["message"] and movie["success"] is False
    sim.configure(json2video_unknown_project=400)
    r = j2v(client, "ABCDEFGHIJKLMNOP")
    assert r.status_code == 400 and "error" in r.json()["message"].lower()


def _pages(client, params, key="k"):
    pages, token = [], None
    while True:
        q = dict(params) if token is None else {"next_token": token, "limit": params.get("limit", 100)}
        r = client.get(J2V, params=q, headers={"x-api-key": key})
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body)
        token = body["next_token"]
        if token is None:
            assert body["has_next"] is False
            return pages
        assert body["has_next"] is True and isinstance(token, str)


def test_json2video_list_pages(sim, client):
    ids = sim.add_jobs([{"provider": "json2video", "queued": 0, "running": 0, "age": i}
                        for i in range(230)])
    pages = _pages(client, {})
    assert [p["count"] for p in pages] == [100, 100, 30]
    assert [len(p["movies"]) for p in pages] == [100, 100, 30]
    assert [p["has_prev"] for p in pages] == [False, True, True]
    assert all(p["limit"] == 100 for p in pages)
    listed = [m["project"] for p in pages for m in p["movies"]]
    assert listed == ids  # age 0 first: newest first
    first = pages[0]
    assert list(first) == ["success", "from", "to", "count", "limit", "has_next", "has_prev",
                           "next_token", "movies", "remaining_quota"]
    today = datetime.now(timezone.utc)
    assert first["from"] == today.strftime("%Y-%m-01T00:00:00.000Z")
    assert first["to"] == today.strftime("%Y-%m-%dT23:59:59.999Z")
    small = _pages(client, {"limit": 50})
    assert [p["count"] for p in small] == [50, 50, 50, 50, 30]


def test_json2video_list_date_ranges(sim, client):
    day = 86400
    now = datetime.now(timezone.utc)
    ids = sim.add_jobs([{"provider": "json2video", "queued": 0, "running": 0,
                         "age": d * day + 60} for d in range(200)])

    def window(start, end):
        return [m["project"] for p in _pages(client, {"date_start": start, "date_end": end})
                for m in p["movies"]]

    got = []
    # three windows of at most 93 days, by dates (an end date means the end of that day)
    edges = [now - timedelta(days=200), now - timedelta(days=120), now - timedelta(days=40), now]
    for i in range(3):
        start = (edges[i] + timedelta(days=1 if i else 0)).strftime("%Y-%m-%d")
        got += window(start, edges[i + 1].strftime("%Y-%m-%d"))
    assert sorted(got) == sorted(ids) and len(got) == 200
    # ISO datetimes and the aliases from/to
    r = client.get(J2V, headers={"x-api-key": "k"}, params={
        "from": (now - timedelta(days=10)).isoformat(), "to": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.json()["count"] == 10
    created = [parse(m["created_at"]) for m in r.json()["movies"]]
    assert created == sorted(created, reverse=True)
    # errors
    r = client.get(J2V, headers={"x-api-key": "k"},
                   params={"date_start": "2026-01-01", "date_end": "2026-06-01"})
    assert r.status_code == 400 and r.json() == {"success": False,
                                                 "message": "Maximum date range is 3 months."}
    r = client.get(J2V, headers={"x-api-key": "k"}, params={"date_start": "yesterday"})
    assert r.status_code == 400 and r.json()["message"] == "Invalid start date"
    r = client.get(J2V, headers={"x-api-key": "k"}, params={"date_end": "2026-13-45"})
    assert r.status_code == 400 and r.json()["message"] == "Invalid end date"
    r = client.get(J2V, headers={"x-api-key": "k"},
                   params={"date_start": "2026-01-01T00:00:00Z", "date_end": "2026-04-04T00:00:00Z"})
    assert r.status_code == 200  # exactly 93 days


# ----------------------------------------------------------------------------- pictory

def test_pictory_lifecycle(sim, client):
    jid = sim.add_job("pictory", queued=0.3, running=0.8)
    seen = collect(lambda: pictory(client, jid), lambda b: (b["data"]["status"], "renderState" in b["data"]),
                   {("completed", False)})
    assert [s for s, _ in seen] == [("in-progress", False), ("in-progress", True), ("completed", False)]
    assert seen[0][1] == {"job_id": jid, "success": True, "data": {"status": "in-progress"}}
    running = seen[1][1]["data"]
    assert set(running) == {"status", "renderProgress", "renderProgressMessage", "renderState"}
    assert running["renderState"] == "RUNNING" and 0 <= running["renderProgress"] <= 100
    assert isinstance(running["renderProgressMessage"], str)
    done = seen[-1][1]
    assert done["success"] is True and done["job_id"] == jid
    assert list(done["data"]) == ["status", "progress", "videoURL", "videoShareURL", "videoEmbedURL",
                                  "audioURL", "thumbnail", "srtFile", "txtFile", "vttFile",
                                  "videoDuration", "encodingDuration"]
    assert done["data"]["progress"] == 100


def test_pictory_progress_grows(sim, client):
    jid = sim.add_job("pictory", queued=0, running=1.0)
    values = []
    for _ in range(6):
        d = pictory(client, jid).json()["data"]
        if "renderProgress" in d:
            values.append(d["renderProgress"])
        time.sleep(0.15)
    assert values == sorted(values) and values[-1] > values[0]


def test_pictory_variants_failure_cleaned_unknown(sim, client):
    ai = sim.add_job("pictory", queued=0, running=0, ai_studio=True)
    bad = sim.add_job("pictory", queued=0, running=0, outcome="failed", error_code="E42",
                      error_message="Invalid voice")
    gone = sim.add_job("pictory", queued=0, running=0, outcome="cleaned", retention=0.3)
    time.sleep(0.05)
    data = pictory(client, ai).json()["data"]
    assert "url" in data and "videoURL" not in data
    body = pictory(client, bad).json()
    assert body == {"job_id": bad, "success": False,
                    "data": {"status": "failed", "error_code": "E42", "error_message": "Invalid voice"}}
    assert pictory(client, gone).json()["data"]["status"] == "completed"
    time.sleep(0.4)
    assert pictory(client, gone).json() == {"job_id": gone, "success": True,
                                            "data": {"status": "cleaned"}}
    unknown = "11111111-2222-4333-8444-555555555555"
    r = pictory(client, unknown)
    assert r.status_code == 404
    assert r.json() == {"job_id": unknown, "success": False,
                        "data": {"error_code": "5000", "error_message": "JOB_NOT_FOUND"}}


@pytest.mark.parametrize("agent", ["python-httpx/0.28.1", "python-requests/2.32", "curl/8.5.0",
                                   "Python/3.11 aiohttp/3.14", "Python-urllib/3.11", ""])
def test_pictory_bot_protection_blocks_generic_agents(sim, agent):
    jid = sim.add_job("pictory")
    with httpx.Client(base_url=sim.base_url, headers={"User-Agent": agent}) as c:
        r = pictory(c, jid)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "Cloudflare" in r.text


def test_pictory_bot_protection_lets_jobpoll_and_browsers_through(sim):
    jid = sim.add_job("pictory")
    for agent in ("jobpoll/0.1.0", "Mozilla/5.0 (X11; Linux x86_64)"):
        with httpx.Client(base_url=sim.base_url, headers={"User-Agent": agent}) as c:
            assert pictory(c, jid).status_code == 200
    with httpx.Client(base_url=sim.base_url) as c:  # default python-httpx agent
        assert pictory(c, jid).status_code == 403
        sim.configure(pictory_bot_protection=False)
        assert pictory(c, jid).status_code == 200


# ----------------------------------------------------------------------------- muvi

def test_muvi_lifecycle_documented_progress(sim, client):
    jid = sim.add_job("muvi", queued=0.3, running=0.5)
    seen = collect(lambda: muvi(client, jid), lambda b: b["status"], {"completed"})
    assert [s for s, _ in seen] == ["pending", "processing", "completed"]
    assert [b["progress"] for _, b in seen] == [0, 50, 100]
    done = seen[-1][1]
    assert list(done) == ["jobId", "status", "progress", "output", "outputs", "error",
                          "createdAt", "completedAt"]
    assert done["output"] == done["outputs"][0]["url"]
    assert set(done["outputs"][0]) == {"url", "type", "thumbnail", "posterImage"}
    assert done["outputs"][0]["type"] == "video" and done["error"] is None
    assert ISO_S.match(done["createdAt"]) and ISO_S.match(done["completedAt"])
    pending = seen[0][1]
    assert pending["output"] is None and pending["outputs"] is None and pending["completedAt"] is None


def test_muvi_variants(sim, client):
    lin = sim.add_job("muvi", queued=0, running=2, progress="linear")
    wrapped = sim.add_job("muvi", queued=0, running=0, wrapped=True)
    failed = sim.add_job("muvi", queued=0, running=0, outcome="failed")
    cancelled = sim.add_job("muvi", queued=0, running=0, outcome="cancelled")
    time.sleep(0.3)
    assert 5 <= muvi(client, lin).json()["progress"] < 50
    body = muvi(client, wrapped).json()
    assert body["success"] is True and body["requestId"].startswith("req_")
    assert body["data"]["status"] == "completed"
    body = muvi(client, failed).json()
    assert body["status"] == "failed" and body["progress"] == 0
    assert body["error"] == {"code": "GENERATION_FAILED", "message":
                             "The model failed to generate the requested output. Credits have been refunded."}
    assert body["completedAt"] is not None
    body = muvi(client, cancelled).json()
    assert body["status"] == "cancelled" and body["error"] is None


def test_muvi_errors(sim, client):
    r = muvi(client, "job_000000000000")
    assert r.status_code == 404
    body = r.json()
    assert body["success"] is False and body["error"]["code"] == "JOB_NOT_FOUND"
    assert set(body["error"]) == {"code", "message", "details"} and body["requestId"].startswith("req_")


def test_muvi_list_cursor_pages_and_filters(sim, client):
    auth = {"Authorization": "Bearer k"}
    ids = sim.add_jobs([{"provider": "muvi", "queued": 0, "running": 0, "age": i * 10,
                         **({"outcome": "failed"} if i % 5 == 0 else {})} for i in range(45)])
    r = client.get("/v1/jobs", headers=auth)
    first = r.json()
    assert list(first) == ["jobs", "nextCursor", "hasMore"]
    assert len(first["jobs"]) == 20 and first["hasMore"] is True
    assert list(first["jobs"][0]) == ["jobId", "status", "progress", "model", "createdAt", "completedAt"]
    # new jobs arriving between pages are neither missed nor duplicated
    sim.add_jobs([{"provider": "muvi"} for _ in range(5)])
    seen = [j["jobId"] for j in first["jobs"]]
    cursor = first["nextCursor"]
    while cursor:
        page = client.get("/v1/jobs", headers=auth, params={"cursor": cursor}).json()
        seen += [j["jobId"] for j in page["jobs"]]
        cursor = page["nextCursor"]
        assert page["hasMore"] is (cursor is not None)
    assert seen == ids
    failed = client.get("/v1/jobs", headers=auth, params={"status": "failed", "limit": 100}).json()
    assert [j["jobId"] for j in failed["jobs"]] == ids[::5] and failed["hasMore"] is False
    model = client.get("/v1/jobs", headers=auth, params={"modelId": "x/y", "limit": 100}).json()
    assert model["jobs"] == []
    for bad in ({"limit": "101"}, {"limit": "0"}, {"status": "done"}, {"cursor": "!!"}):
        r = client.get("/v1/jobs", headers=auth, params=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION_ERROR"


# ----------------------------------------------------------------------------- reelbot

def test_reelbot_lifecycle(sim, client):
    jid = sim.add_job("reelbot", queued=0.3, running=0.5)
    seen = collect(lambda: reelbot(client, jid), lambda b: b["status"], {"completed"})
    assert [s for s, _ in seen] == ["queued", "processing", "completed"]
    q, p, c = (b for _, b in seen)
    assert q == {"status": "queued", "message": "Video is queued for processing",
                 "createdAt": q["createdAt"]}
    assert p["message"] == "Video is being processed" and ISO_MS.match(p["updatedAt"])
    assert c["message"] == "Video generation completed successfully"
    assert c["outputKey"].endswith(".mp4") and ISO_MS.match(c["createdAt"])
    bad = sim.add_job("reelbot", queued=0, running=0, outcome="failed")
    body = reelbot(client, bad).json()
    assert body["status"] == "failed" and body["message"] == "Video generation failed"
    assert body["error"] == "Failed to process B-roll asset: file not found"


def test_reelbot_not_found_and_unauthorized(sim, client):
    r = reelbot(client, "doesnotexist1")
    assert r.status_code == 404
    assert r.json() == {"success": False, "message": "Project not found", "code": "NOT_FOUND"}
    assert "x-ratelimit-remaining" in r.headers
    r = client.get("/api/v1/video/status/x")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    assert r.json()["message"] == \
        "Unauthorized. Please provide a valid API key via the X-API-Key header."
    owned = sim.add_job("reelbot", owner="alice")
    assert reelbot(client, owned, key="alice").status_code == 200
    assert reelbot(client, owned, key="bob").status_code == 404


def test_reelbot_rate_limit(sim, client):
    sim.configure(reelbot_status_budget=(3, 1.0))
    jid = sim.add_job("reelbot")
    remaining = []
    for _ in range(3):
        r = reelbot(client, jid, key="k1")
        assert r.status_code == 200
        remaining.append(r.headers["X-RateLimit-Remaining"])
        reset = parse(r.headers["X-RateLimit-Reset"])
    assert remaining == ["2", "1", "0"]
    assert ISO_MS.match(r.headers["X-RateLimit-Reset"])
    r = reelbot(client, jid, key="k1")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    body = r.json()
    assert body == {"success": False, "code": "RATE_LIMITED",
                    "message": "Rate limit exceeded. Please reduce polling frequency.",
                    "details": {"resetAt": body["details"]["resetAt"]}}
    assert parse(body["details"]["resetAt"]) == reset
    # per key
    assert reelbot(client, jid, key="k2").status_code == 200
    time.sleep(int(r.headers["Retry-After"]) + 0.05)
    r = reelbot(client, jid, key="k1")
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"


def test_reelbot_default_budget_is_60_a_minute(sim, client):
    jid = sim.add_job("reelbot")
    codes = [reelbot(client, jid).status_code for _ in range(61)]
    assert codes == [200] * 60 + [429]
    assert 59 <= int(reelbot(client, jid).headers["Retry-After"]) <= 60


def test_reelbot_download(sim, client):
    done = sim.add_job("reelbot", queued=0, running=0)
    busy = sim.add_job("reelbot", queued=0, running=60)
    failed = sim.add_job("reelbot", queued=0, running=0, outcome="failed")
    dl = lambda jid, key="sim-key": client.get(f"/api/v1/video/download/{jid}",  # noqa: E731
                                               headers={"X-API-Key": key})
    r = dl(done)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["success", "downloadUrl", "expiresAt"] and body["success"] is True
    # Pre-signed on S3 in real life: the file origin, another origin than the API's.
    assert body["downloadUrl"].startswith(sim.files_url + f"/_files/{done}.mp4?")
    assert "X-Amz-Expires=3600" in body["downloadUrl"] and "X-Amz-Signature=" in body["downloadUrl"]
    expires = parse(body["expiresAt"]) - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < expires <= timedelta(hours=1)
    assert r.headers["X-RateLimit-Remaining"] == "29"
    assert dl(done).json()["downloadUrl"] != body["downloadUrl"]
    video = httpx.get(body["downloadUrl"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    r = dl(busy)
    assert r.status_code == 400 and r.json()["code"] == "VIDEO_NOT_READY"
    r = dl(failed)
    assert r.status_code == 404 and r.json()["code"] == "OUTPUT_NOT_FOUND"
    assert dl("nosuchproject").json()["code"] == "NOT_FOUND"
    sim.configure(reelbot_download_budget=(1, 3600))
    assert dl(done, "other").status_code == 200
    r = dl(done, "other")
    assert r.status_code == 429 and 3590 <= int(r.headers["Retry-After"]) <= 3600


# ----------------------------------------------------------------------------- auth

def test_auth_variants(sim, client):
    ids = {p: sim.add_job(p) for p in LOOKUP}
    # missing key: 401 everywhere
    assert client.get(J2V, params={"project": ids["json2video"]}).status_code == 401
    assert client.get(f"/pictoryapis/v1/jobs/{ids['pictory']}").status_code == 401
    assert client.get(f"/v1/jobs/{ids['muvi']}").status_code == 401
    assert client.get(f"/api/v1/video/status/{ids['reelbot']}").status_code == 401
    # bad keys
    r = j2v(client, ids["json2video"], key="bad-key")
    assert r.status_code == 401 and r.json() == {"success": False, "message": "Invalid API key"}
    r = j2v(client, ids["json2video"], key="quota-key")
    assert r.status_code == 401 and "quota" in r.json()["message"].lower()
    sim.configure(json2video_bad_key_status=403)
    assert j2v(client, ids["json2video"], key="bad-key").status_code == 403
    assert pictory(client, ids["pictory"], key="bad").status_code == 401
    assert reelbot(client, ids["reelbot"], key="bad").json()["code"] == "UNAUTHORIZED"
    for key, status, code in (("bad1", 401, "INVALID_API_KEY"), ("inactive1", 401, "API_KEY_INACTIVE"),
                              ("expired1", 401, "API_KEY_EXPIRED"), ("noip1", 403, "IP_NOT_WHITELISTED"),
                              ("noscope", 403, "OPERATION_NOT_ALLOWED")):
        r = muvi(client, ids["muvi"], key=key)
        assert r.status_code == status and r.json()["error"]["code"] == code
        assert r.json()["success"] is False
    r = client.get(f"/v1/jobs/{ids['muvi']}", headers={"Authorization": "Token k"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    # any other key works
    for provider, fetch in LOOKUP.items():
        assert fetch(client, ids[provider], key="whatever-123").status_code == 200


# ----------------------------------------------------------------------------- faults

def _one_fault(sim, provider, **fault):
    return sim.add_job(provider, queued=0, running=0, faults=[fault])


@pytest.mark.parametrize("provider", list(LOOKUP))
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_fault_server_errors(sim, client, provider, kind):
    jid = _one_fault(sim, provider, kind=kind)
    r = LOOKUP[provider](client, jid)
    assert r.status_code == int(kind) and r.headers["content-type"].startswith("text/html")
    assert LOOKUP[provider](client, jid).status_code == 200  # times defaults to 1


@pytest.mark.parametrize("provider", list(LOOKUP))
def test_fault_429(sim, client, provider):
    jid = _one_fault(sim, provider, kind="429", seconds=7)
    r = LOOKUP[provider](client, jid)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    body = r.json()
    if provider == "reelbot":
        assert body["code"] == "RATE_LIMITED" and ISO_MS.match(body["details"]["resetAt"])
        assert r.headers["X-RateLimit-Remaining"] == "0"
    assert "resetAt" in json.dumps(body)
    jid = _one_fault(sim, "reelbot", kind="429", reset_at="2030-01-01T00:00:00.000Z", http_date=True)
    r = reelbot(client, jid)
    assert r.json()["details"]["resetAt"] == "2030-01-01T00:00:00.000Z"
    assert r.headers["Retry-After"].endswith("GMT")


@pytest.mark.parametrize("provider", list(LOOKUP))
def test_fault_401_404(sim, client, provider):
    jid = sim.add_job(provider, faults=[{"kind": "401"}, {"kind": "404"}])
    assert LOOKUP[provider](client, jid).status_code == 401
    assert LOOKUP[provider](client, jid).status_code == 404
    assert LOOKUP[provider](client, jid).status_code == 200
    jid = sim.add_job("pictory", faults=[{"kind": "404"}])
    assert pictory(client, jid).json()["data"]["error_message"] == "JOB_NOT_FOUND"


def test_fault_truncated_and_invalid_json(sim, client):
    jid = sim.add_job("muvi", faults=[{"kind": "truncated"}, {"kind": "invalid_json"},
                                      {"kind": "truncated", "close": True}])
    r = muvi(client, jid)
    full = muvi(client, jid)  # invalid_json
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert r.text.startswith('{"jobId":')
    with pytest.raises(ValueError):
        full.json()
    with pytest.raises(httpx.HTTPError):
        muvi(client, jid)
    normal = muvi(client, jid)
    assert normal.json()["jobId"] == jid
    assert len(r.content) == len(normal.content) // 2
    assert normal.content.startswith(r.content)


@pytest.mark.parametrize("provider", list(LOOKUP))
def test_fault_wrong_shape(sim, client, provider):
    faults = [{"kind": "wrong_shape", "shape": s}
              for s in ("array", "null", "number", "strings", "missing", "html")]
    jid = sim.add_job(provider, queued=0, running=0, faults=faults)
    fetch = LOOKUP[provider]
    arr = fetch(client, jid).json()
    assert isinstance(arr, list) and len(arr) == 1
    assert fetch(client, jid).json() is None
    assert fetch(client, jid).json() == 42
    strings = fetch(client, jid).text
    missing = fetch(client, jid).json()
    html = fetch(client, jid)
    normal = fetch(client, jid).json()
    assert arr[0] == normal
    assert '"status"' not in json.dumps(missing)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    numbers = re.findall(r':(-?\d+(?:\.\d+)?)[,}]', json.dumps(normal, separators=(",", ":")))
    if numbers:
        assert not re.findall(r':(-?\d+(?:\.\d+)?)[,}]', strings)


@pytest.mark.parametrize("provider", list(LOOKUP))
def test_fault_unknown_status(sim, client, provider):
    jid = sim.add_job(provider, faults=[{"kind": "unknown_status"}])
    assert "rendering-v2" in LOOKUP[provider](client, jid).text
    assert "rendering-v2" not in LOOKUP[provider](client, jid).text


def test_fault_slow(sim, client):
    jid = sim.add_job("reelbot", faults=[{"kind": "slow", "delay": 0.5}])
    t = time.monotonic()
    assert reelbot(client, jid).json()["status"] == "queued"
    assert time.monotonic() - t >= 0.5
    with pytest.raises(httpx.ReadTimeout):
        jid = sim.add_job("reelbot", faults=[{"kind": "slow", "delay": 1}])
        reelbot(client, jid, timeout=0.2)


def test_fault_reset(sim, client):
    jid = sim.add_job("json2video", faults=[{"kind": "reset", "times": 2}])
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            j2v(client, jid)
    assert j2v(client, jid).status_code == 200
    assert [e["status"] for e in sim.requests()] == [None, None, 200]


def test_fault_drip(sim, client):
    jid = sim.add_job("pictory", faults=[{"kind": "drip", "chunk": 10, "pause": 0.02}])
    t = time.monotonic()
    with client.stream("GET", f"/pictoryapis/v1/jobs/{jid}", headers={"Authorization": "k"}) as r:
        chunks = [c for c in r.iter_raw()]
    elapsed = time.monotonic() - t
    body = b"".join(chunks)
    assert json.loads(body)["job_id"] == jid
    assert len(chunks) > 3 and elapsed >= 0.02 * (len(body) // 10 - 1)


def test_fault_huge(sim, client):
    jid = sim.add_job("muvi", faults=[{"kind": "huge", "size": 3_000_000},
                                      {"kind": "huge", "size": 100_000, "content_length": True}])
    received = 0
    with client.stream("GET", f"/v1/jobs/{jid}", headers={"Authorization": "Bearer k"}) as r:
        assert "content-length" not in r.headers
        it = r.iter_bytes()
        head = next(it)
        received += len(head)
        assert head.startswith(b'{"jobId":"' + jid.encode())
        for chunk in it:
            received += len(chunk)
    assert received == 3_000_000
    r = muvi(client, jid)
    assert int(r.headers["content-length"]) == 100_000 == len(r.content)
    assert r.json()["jobId"] == jid and len(r.json()["padding"]) > 90_000
    # a client that gives up early does not hurt the server
    jid = sim.add_job("muvi", faults=[{"kind": "huge"}])
    with client.stream("GET", f"/v1/jobs/{jid}", headers={"Authorization": "Bearer k"}) as r:
        next(r.iter_bytes())
    assert muvi(client, jid).status_code == 200


@pytest.mark.parametrize("provider", list(LOOKUP))
def test_fault_redirect_to_foreign_origin(sim, client, provider):
    jid = sim.add_job(provider, queued=0, running=0, faults=[{"kind": "redirect", "status": 307}])
    r = LOOKUP[provider](client, jid, params={"a": "b"})
    assert r.status_code == 307
    assert r.headers["location"].startswith(sim.foreign_url)
    # a careless client follows with its key: the foreign origin sees (and logs) it
    sim.add_job(provider, jid, queued=0, running=0, faults=[{"kind": "redirect"}])
    headers = {"json2video": {"x-api-key": "K1"}, "pictory": {"Authorization": "K1"},
               "muvi": {"Authorization": "Bearer K1"}, "reelbot": {"X-API-Key": "K1"}}[provider]
    with httpx.Client(headers={**UA, **headers}, follow_redirects=True) as careless:
        path = httpx.URL(r.headers["location"]).raw_path.decode()
        r = careless.get(sim.base_url + path)
    assert r.status_code == 200 and jid in r.text  # a valid-looking answer
    assert str(r.url).startswith(sim.foreign_url)
    foreign = sim.requests(origin="foreign")
    assert len(foreign) == 1 and foreign[0]["query"]["a"] == "b"
    sent = foreign[0]["headers"]
    if provider in ("pictory", "muvi"):
        assert "authorization" not in sent  # httpx strips Authorization across origins...
    else:
        assert sent[next(iter(headers)).lower()] == "K1"  # ...but not custom key headers


def test_fault_redirect_same_origin(sim, client):
    jid = sim.add_job("reelbot", faults=[{"kind": "redirect_same", "times": -1}])
    with httpx.Client(base_url=sim.base_url, headers=UA, follow_redirects=True) as c:
        r = reelbot(c, jid)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    log = sim.requests()
    assert [e["status"] for e in log] == [302, 200]
    assert log[1]["query"] == {"_sim_redirected": "1"} and log[1]["origin"] == "main"


def test_fault_times_after_and_forever(sim, client):
    jid = sim.add_job("reelbot", faults=[{"kind": "500", "after": 2, "times": 2}])
    assert [reelbot(client, jid).status_code for _ in range(6)] == [200, 200, 500, 500, 200, 200]
    jid = sim.add_job("reelbot", faults=[{"kind": "503", "times": -1}])
    assert {reelbot(client, jid).status_code for _ in range(4)} == {503}
    jid = sim.add_job("reelbot", queued=0, running=0,
                      faults=[{"kind": "500", "on": "download"}])
    assert reelbot(client, jid).status_code == 200
    r = client.get(f"/api/v1/video/download/{jid}", headers={"X-API-Key": "k"})
    assert r.status_code == 500


def test_random_faults_follow_seed():
    def kinds(seed):
        s = Simulator(seed=seed, fault_rate=1.0)
        s.configure(random_slow_delay=0.05)
        s.start()
        try:
            jid = s.add_job("muvi")
            with httpx.Client(base_url=s.base_url, headers=UA, timeout=5) as c:
                out = []
                for _ in range(12):
                    try:
                        r = muvi(c, jid)
                        out.append(r.status_code)
                    except httpx.TransportError:
                        out.append("reset")
            return out
        finally:
            s.stop()

    a = kinds(11)
    assert a == kinds(11)
    assert set(a) <= {200, 500, 503, 429, "reset"}
    assert len(set(a)) > 2


def test_random_fault_rate_share(sim, client):
    sim.configure(fault_rate=0.3, seed=5, random_slow_delay=0.05)
    jid = sim.add_job("json2video")
    ok = 0
    for _ in range(60):
        try:
            r = j2v(client, jid, timeout=3)
            ok += r.status_code == 200 and r.json()["movie"]["project"] == jid
        except (httpx.TransportError, ValueError):
            pass
    assert 25 <= ok <= 55
    sim.configure(fault_rate=0)
    assert all(j2v(client, jid).status_code == 200 for _ in range(10))


# ----------------------------------------------------------------------------- speed, control API

def test_speed_and_age(client):
    with Simulator(speed=10) as s:
        jid = s.add_job("muvi", queued=2, running=2)
        with httpx.Client(base_url=s.base_url, headers=UA) as c:
            time.sleep(0.5)
            assert muvi(c, jid).json()["status"] == "completed"
            old = s.add_job("muvi", queued=10, running=10, age=15)
            body = muvi(c, old).json()
            assert body["status"] == "processing"
            created = parse(body["createdAt"])
            assert timedelta(seconds=14) < datetime.now(timezone.utc) - created < timedelta(seconds=17)


def test_http_control_api(sim, client):
    r = client.post("/_sim/jobs", json=[{"provider": "reelbot", "queued": 0, "running": 0},
                                        {"provider": "muvi", "id": "job_abcdefabcdef"}])
    assert r.status_code == 200
    ids, refs = r.json()["ids"], r.json()["refs"]
    assert ids[1] == "job_abcdefabcdef" and refs[1] == "muvi:job_abcdefabcdef"
    r = client.post("/_sim/jobs", json={"provider": "pictory", "faults": [{"kind": "503"}]})
    (pid,) = r.json()["ids"]
    assert client.post("/_sim/jobs", json={"provider": "nope"}).status_code == 400
    assert reelbot(client, ids[0]).json()["status"] == "completed"
    assert pictory(client, pid).status_code == 503
    log = client.get("/_sim/requests").json()["requests"]
    assert [e["path"] for e in log] == [f"/api/v1/video/status/{ids[0]}", f"/pictoryapis/v1/jobs/{pid}"]
    assert log[0]["headers"]["x-api-key"] == "sim-key"
    assert client.get("/_sim/requests", params={"path": "/pictory"}).json()["requests"][0]["status"] == 503
    r = client.post("/_sim/config", json={"reelbot_status_budget": [1, 60]})
    assert r.json()["config"]["reelbot_status_budget"] == [1, 60.0]
    assert client.post("/_sim/config", json={"nonsense": 1}).status_code == 400
    assert reelbot(client, ids[0]).status_code == 200
    assert reelbot(client, ids[0]).status_code == 429
    info = client.get("/_sim").json()
    assert info["base_url"] == sim.base_url and info["jobs"]["muvi"] == 1
    assert client.post("/_sim/reset").json() == {"ok": True}
    assert client.get("/_sim/requests").json()["requests"] == []
    assert reelbot(client, ids[0]).status_code == 404
    assert client.get("/_sim/jobs").json() == {"jobs": []}


def test_seed_demo_jobs(sim, client):
    refs = seed_demo_jobs(sim)
    providers = [r.split(":", 1)[0] for r in refs]
    assert set(providers) == {"json2video", "pictory", "muvi", "reelbot", "shotstack", "runway", "replicate"}
    assert len(refs) >= 6
    reel = [r.split(":", 1)[1] for r in refs if r.startswith("reelbot:")]
    codes = [reelbot(client, reel[0]).status_code for _ in range(3)]
    assert codes == [200, 429, 200]


def test_serve_prints_exports_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-c", "from jobpoll.simulator import serve; serve(port=0, seed=1)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        assert m, first
        base = m.group(0)
        lines = []
        while True:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        for p in ("JSON2VIDEO", "PICTORY", "MUVI", "REELBOT"):
            assert f"export JOBPOLL_{p}_BASE_URL={base}" in text
            assert f"export JOBPOLL_{p}_API_KEY=sim-key" in text
        refs = re.findall(r"jobpoll status (\S+)", text)
        assert len(refs) >= 8
        info = httpx.get(base + "/_sim").json()
        assert sum(info["jobs"].values()) == len(refs)
        failed = [line for line in lines if "# failed" in line]
        ref = re.search(r"jobpoll status muvi:(\S+)", "".join(failed)).group(1)
        r = httpx.get(f"{base}/v1/jobs/{ref}", headers={"Authorization": "Bearer sim-key"})
        assert r.json()["status"] == "failed"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_context_manager_and_restart():
    sim = Simulator()
    with sim:
        url = sim.base_url
        assert httpx.get(url + "/_sim").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/_sim", timeout=1)
    sim.stop()  # idempotent


def test_port_in_use_raises():
    with Simulator() as a:
        port = int(a.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            Simulator().start(port=port)


def test_many_jobs_concurrent_adds(sim, client):
    import threading

    def adder():
        sim.add_jobs([{"provider": "muvi", "queued": 0, "running": 0} for _ in range(500)])

    threads = [threading.Thread(target=adder) for _ in range(4)]
    for t in threads:
        t.start()
    codes = [client.get("/v1/jobs", headers={"Authorization": "Bearer k"},
                        params={"limit": 100}).status_code for _ in range(20)]
    for t in threads:
        t.join()
    assert set(codes) == {200}
    assert len(sim.jobs("muvi")) == 2000
    total, cursor = 0, None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", headers={"Authorization": "Bearer k"}, params=params).json()
        total += len(page["jobs"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert total == 2000
    assert math.isclose(total, 2000)


def test_add_jobs_is_all_or_nothing_and_takes_per_job_speed(sim, client):
    with pytest.raises(ValueError):
        sim.add_jobs([{"provider": "muvi"}, {"provider": "muvi", "outcome": "cleaned"}])
    assert sim.jobs() == []
    fast, slow = sim.add_jobs([{"provider": "muvi", "queued": 5, "running": 5, "speed": 50},
                               {"provider": "muvi", "job_id": "job_slowslowslow", "queued": 5}])
    assert slow == "job_slowslowslow"
    time.sleep(0.3)
    assert muvi(client, fast).json()["status"] == "completed"
    assert muvi(client, slow).json()["status"] == "pending"
    sim.add_job("muvi", slow, queued=0, running=0)  # replacing keeps one entry
    assert sim.jobs("muvi").count(f"muvi:{slow}") == 1
    assert sim.phase("muvi", slow) == "done"


def test_fault_429_with_only_a_reset_time(sim, client):
    jid = sim.add_job("json2video", faults=[{"kind": "429", "reset_at": 4.2, "retry_after": True}])
    r = j2v(client, jid)
    assert r.status_code == 429 and r.headers["Retry-After"] in ("4", "5")
    jid = sim.add_job("muvi", faults=["429"])  # a bare kind
    r = muvi(client, jid)
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
