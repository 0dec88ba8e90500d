"""The simulator's clock: tests move it forward instead of waiting for real time."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx
import pytest

from jobpoll.simulator import SimClock, Simulator

UA = {"User-Agent": "jobpoll/0.1.0"}


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def sim():
    with Simulator(seed=11) as s:
        yield s


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.base_url, headers=UA, timeout=10) as c:
        yield c


def muvi(client, job_id):
    return client.get(f"/v1/jobs/{job_id}", headers={"Authorization": "Bearer k"}).json()


def test_advancing_finishes_a_job_and_its_times_stay_on_the_real_clock(sim, client):
    jid = sim.add_job("muvi", queued=60, running=600)
    assert muvi(client, jid)["status"] == "pending"
    assert sim.advance(61) == 61
    running = muvi(client, jid)
    assert running["status"] == "processing"
    assert sim.advance(600) == 661
    done = muvi(client, jid)
    assert done["status"] == "completed" and done["output"]
    now = time.time()
    # As if 661 s had passed: created that long ago, completed just now (whole seconds).
    assert now - 663 <= parse(done["createdAt"]) <= now - 659
    assert now - 3 <= parse(done["completedAt"]) <= now + 1
    assert sim.phase("muvi", jid) == "done"


def test_a_job_added_after_an_advance_starts_from_its_own_beginning(sim, client):
    sim.advance(3600)
    jid = sim.add_job("muvi", queued=60, running=60)
    body = muvi(client, jid)
    assert body["status"] == "pending"
    assert abs(parse(body["createdAt"]) - time.time()) < 2


def test_speed_multiplies_what_an_advance_does(sim):
    jid = sim.add_job("muvi", queued=0, running=100, speed=10)
    sim.advance(9)
    assert sim.phase("muvi", jid) == "running"
    sim.advance(2)
    assert sim.phase("muvi", jid) == "done"


def test_a_pictory_retention_runs_out(sim, client):
    jid = sim.add_job("pictory", queued=0, running=0, outcome="cleaned", retention=30)
    get = lambda: client.get(f"/pictoryapis/v1/jobs/{jid}", headers={"Authorization": "k"}).json()
    assert get()["data"]["status"] == "completed"
    sim.advance(31)
    assert get()["data"] == {"status": "cleaned"}


def test_a_reelbot_rate_window_resets_and_its_reset_time_moves_with_it(sim, client):
    sim.configure(reelbot_status_budget=(2, 60.0))
    jid = sim.add_job("reelbot")
    get = lambda: client.get(f"/api/v1/video/status/{jid}", headers={"X-API-Key": "k"})
    first = get()
    reset = parse(first.headers["X-RateLimit-Reset"])
    assert 58 < reset - time.time() <= 60.5
    sim.advance(20)
    second = get()
    assert second.status_code == 200
    assert abs(parse(second.headers["X-RateLimit-Reset"]) - (reset - 20)) < 0.01
    limited = get()
    assert limited.status_code == 429 and 39 <= int(limited.headers["Retry-After"]) <= 40
    sim.advance(40)
    again = get()
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "1"


def test_lists_keep_their_order_and_date_filter_after_an_advance(sim, client):
    ids = [sim.add_job("muvi", queued=0, running=0, age=30 - i) for i in range(3)]
    sim.advance(120)
    listed = client.get("/v1/jobs", headers={"Authorization": "Bearer k"},
                        params={"limit": 2}).json()
    assert [j["jobId"] for j in listed["jobs"]] == ids[::-1][:2]
    rest = client.get("/v1/jobs", headers={"Authorization": "Bearer k"},
                      params={"limit": 2, "cursor": listed["nextCursor"]}).json()
    assert [j["jobId"] for j in rest["jobs"]] == ids[:1]
    j2v = sim.add_job("json2video", queued=0, running=0, age=10)
    sim.advance(60)
    since = datetime.fromtimestamp(time.time() - 75, timezone.utc).isoformat()
    movies = client.get("/v2/movies", headers={"x-api-key": "k"}, params={"from": since}).json()
    assert [m["project"] for m in movies["movies"]] == [j2v]


def test_the_clock_over_http_and_its_bad_input(sim, client):
    jid = sim.add_job("muvi", queued=0, running=30)
    assert client.get("/_sim/clock").json() == {"offset": 0.0}
    assert client.post("/_sim/clock", json={"advance": 31}).json() == {"offset": 31.0}
    assert muvi(client, jid)["status"] == "completed"
    for body in ({"advance": -1}, {"advance": "soon"}, {"by": 1}, [1], {"advance": 1, "x": 2}):
        r = client.post("/_sim/clock", json=body)
        assert r.status_code == 400 and r.json()["error"], body
    assert client.get("/_sim/clock").json() == {"offset": 31.0}


def test_a_clock_can_be_shared_and_only_moves_forward():
    clock = SimClock()
    with Simulator(clock=clock) as a:
        jid = a.add_job("reelbot", queued=0, running=10)
        clock.advance(11)
        assert a.phase("reelbot", jid) == "done"
    with pytest.raises(ValueError):
        clock.advance(-0.5)
    with pytest.raises(ValueError):
        clock.advance(float("nan"))


def test_a_creatomate_window_resets_too(sim, client):
    sim.configure(creatomate_budget=(1, 10.0))
    jid = sim.add_job("creatomate", queued=0, running=0)
    get = lambda: client.get(f"/v1/renders/{jid}", headers={"Authorization": "Bearer k"})
    assert get().status_code == 200
    sim.advance(5)
    assert get().status_code == 429
    sim.advance(5)
    assert get().status_code == 200
