"""The watch engine's parts with plain numbers (pacing, intervals, estimates) and the
engine itself over a fake HTTP client (batching, 429 pauses, retries, deadlines,
thousands of jobs)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest

from jobpoll.config import Endpoint
from jobpoll.errors import UnavailableError
from jobpoll.model import State
from jobpoll.pacing import Pacer, TokenBucket, reset_time
from jobpoll.poller import (
    Kind,
    Poller,
    PollOptions,
    Stop,
    Target,
    eta_delay,
    eta_schedule,
    first_interval,
    grow,
    land_after,
)
from jobpoll.providers import get_provider
from jobpoll.providers.base import Answer, RateBudget
from jobpoll.refs import JobRef

# ---- token bucket and pacer ---------------------------------------------------------


def test_bucket_for_reelbots_budget_allows_a_burst_then_the_rate():
    bucket = TokenBucket.for_budget(RateBudget(60, 60.0), now=0.0)
    assert bucket.capacity == 10
    assert [bucket.take(0.0) for _ in range(10)] == [0.0] * 10
    wait = bucket.take(0.0)
    assert wait == pytest.approx(60 / 50)  # refill at (60 - 10) / 60 s
    assert bucket.take(wait) == 0.0


def test_a_greedy_caller_never_exceeds_the_budget_in_any_window():
    bucket = TokenBucket.for_budget(RateBudget(60, 60.0), now=0.0)
    now, sent = 0.0, []
    while now < 400:
        wait = bucket.take(now)
        if wait == 0.0:
            sent.append(now)
        else:
            now += wait
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 60) <= 60


def test_headers_only_ever_lower_the_count_and_zero_pauses_until_reset():
    pacer = Pacer(RateBudget(60, 60.0), now=0.0)
    wall = 1_000_000_000.0
    pacer.observe({"x-ratelimit-remaining": "59"}, now=0.0, wall=wall)
    assert pacer.bucket.tokens == 10  # more remaining than we allow ourselves: no change
    pacer.observe({"x-ratelimit-remaining": "3"}, now=0.0, wall=wall)
    assert pacer.bucket.tokens == 3
    reset = datetime.fromtimestamp(wall + 20, timezone.utc).isoformat().replace("+00:00", "Z")
    pacer.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, now=0.0, wall=wall)
    assert pacer.take(0.0) == pytest.approx(20.1)
    assert pacer.take(19.9) > 0
    assert pacer.take(20.2) == 0.0


def test_a_pause_holds_every_request_of_a_pacer_without_budget_too():
    pacer = Pacer(None, now=100.0)
    assert pacer.take(100.0) == 0.0
    pacer.pause(retry_at_wall=5_000.0 + 3, now=100.0, wall=5_000.0)
    assert pacer.take(101.0) == pytest.approx(2.1)
    assert pacer.take(103.2) == 0.0
    pacer.pause(retry_at_wall=10.0, now=104.0, wall=5_000.0)  # in the past: no pause
    assert pacer.take(104.0) == 0.0


@pytest.mark.parametrize("value,expected", [
    ("2026-01-01T00:00:10Z", datetime(2026, 1, 1, 0, 0, 10, tzinfo=timezone.utc).timestamp()),
    ("1900000000", 1_900_000_000.0),
    ("30", 1_000.0 + 30),
    ("soon", None),
    (None, None),
])
def test_reset_header_forms(value, expected):
    assert reset_time(value, wall=1_000.0) == expected


# ---- intervals and estimates -------------------------------------------------------------


def test_interval_grows_by_half_with_jitter_up_to_the_ceiling():
    rng = random.Random(7)
    interval, seen = 1.0, []
    for _ in range(20):
        new = grow(interval, 60.0, rng)
        if interval < 60 / 1.65:
            assert 1.35 * interval <= new <= 1.65 * interval
        seen.append(new)
        interval = new
    assert max(seen) == 60.0 and seen[-1] == 60.0


def test_first_interval_option_then_config_then_provider():
    muvi, pictory = get_provider("muvi"), get_provider("pictory")
    configured = Endpoint(muvi, "http://x", "k", "env", 7.0, "env")
    plain = Endpoint(pictory, "http://x", "k", "env", None, "env")
    assert first_interval(0.2, configured) == 0.2  # never raised
    assert first_interval(None, configured) == 7.0
    assert first_interval(None, plain) == 10.0


def test_eta_from_the_progress_rate():
    assert eta_delay((10.0, 20.0), now=12.0, progress=40.0) == pytest.approx(6.0)  # 10 %/s
    assert eta_delay((10.0, 20.0), now=12.0, progress=20.0) is None  # not moving
    assert eta_delay((10.0, 20.0), now=10.1, progress=25.0) is None  # too short to tell
    assert 6.0 < land_after(6.0) < 7.0


def test_eta_schedule_stays_in_bounds_and_splits_long_waits_evenly():
    assert eta_schedule(0.1, floor=2.0, ceiling=10.0) == 2.0  # never sooner than -i
    assert eta_schedule(6.0, floor=2.0, ceiling=10.0) == pytest.approx(land_after(6.0))
    # 10.3 s away with a 10 s ceiling: two hops of ~5.4 s, not 10 s and then 2 s more.
    first = eta_schedule(10.3, floor=2.0, ceiling=10.0)
    assert first == pytest.approx(land_after(10.3) / 2)
    assert 9.0 < eta_schedule(100.0, floor=2.0, ceiling=10.0) <= 10.0


# ---- the engine over a fake HTTP client ---------------------------------------------------


class FakeHttp:
    """Answers like the providers do, from a script per job: a list of
    (seconds since start, payload) steps, or a callable."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[float, str, dict]] = []
        self.started = time.monotonic()

    async def get(self, endpoint, request):
        now = time.monotonic() - self.started
        self.calls.append((now, request.path, dict(request.params)))
        await asyncio.sleep(0)
        return self.answer(endpoint, request, now)


def body(status_code: int, payload, headers=None) -> Answer:
    return Answer(status_code, headers or {}, json.dumps(payload).encode())


def endpoint(name: str, key: str = "k") -> Endpoint:
    return Endpoint(get_provider(name), "http://sim", key, "env", None, "env")


def single(**options) -> PollOptions:
    """Options for tests of single lookups (Muvi jobs would otherwise be listed)."""
    return PollOptions(batch=False, **options)


def targets(name: str, ids, key: str = "k"):
    ep = endpoint(name, key)
    return [Target(JobRef(name, i), ep) for i in ids]


def run(poller: Poller):
    updates = []
    stop = asyncio.run(poller.run(updates.append))
    return stop, updates


def muvi_job(job_id, status, progress=None):
    data = {"jobId": job_id, "status": status, "progress": progress,
            "createdAt": "2026-11-26T06:00:00Z"}
    if status == "completed":
        data["outputs"] = [{"url": f"https://cdn/{job_id}.mp4", "type": "video"}]
    return data


def test_every_job_is_watched_to_its_end_with_updates_in_order():
    ids = [f"job_{i:012x}" for i in range(5)]

    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        n = int(job_id[-1])
        if now < 0.05:
            return body(200, muvi_job(job_id, "pending", 0))
        if now < 0.1 + n * 0.02:
            return body(200, muvi_job(job_id, "processing", 50))
        return body(200, muvi_job(job_id, "failed" if n == 4 else "completed"))

    poller = Poller(targets("muvi", ids), single(interval=0.02, max_interval=0.05), FakeHttp(answer))
    stop, updates = run(poller)
    assert stop is Stop.FINISHED
    for job_id in ids:
        kinds = [u.kind for u in updates if u.ref == f"muvi:{job_id}"]
        assert kinds[0] is Kind.SEEN and kinds[-1] is Kind.FINAL
        assert Kind.CHANGED in kinds
    results = {r.ref.id: r for r in poller.results()}
    assert results[ids[0]].job.state is State.DONE and results[ids[0]].exit_code(stop) == 0
    assert results[ids[4]].job.state is State.FAILED and results[ids[4]].exit_code(stop) == 1


def test_consecutive_failures_abandon_only_that_job():
    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        if job_id.endswith("bad"):
            return Answer(502, {}, b"<html>bad gateway</html>")
        return body(200, muvi_job(job_id, "completed" if now > 0.05 else "processing", 50))

    http = FakeHttp(answer)
    poller = Poller(targets("muvi", ["job_bad", "job_ok"]),
                    single(interval=0.01, max_interval=0.02, retries=2), http)
    stop, updates = run(poller)
    bad, ok = poller.results()
    assert isinstance(bad.error, UnavailableError) and bad.exit_code(stop) == 6
    assert "gave up after 3 lookups" in bad.error.message
    assert ok.job.state is State.DONE
    assert sum(1 for c in http.calls if c[1].endswith("job_bad")) == 3
    assert [u.text for u in updates if u.kind is Kind.RETRYING] == ["retry 1/2", "retry 2/2"]


def test_a_429_pauses_every_job_of_the_provider_until_the_time_it_gave():
    state = {"limited_at": None}

    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        if job_id == "job_a" and state["limited_at"] is None and now > 0.05:
            state["limited_at"] = now
            return body(429, {"success": False, "error": {"code": "RATE_LIMITED", "message": "slow down"}},
                        {"retry-after": "0.5"})
        done = state["limited_at"] is not None and now > state["limited_at"] + 0.6
        return body(200, muvi_job(job_id, "completed" if done else "processing", 50))

    http = FakeHttp(answer)
    poller = Poller(targets("muvi", ["job_a", "job_b", "job_c"]),
                    single(interval=0.02, max_interval=0.05, retries=0), http)
    stop, updates = run(poller)
    assert stop is Stop.FINISHED
    assert all(r.job.state is State.DONE for r in poller.results())  # a 429 is not a failure
    t429 = state["limited_at"]
    assert not [c for c in http.calls if t429 + 0.01 < c[0] < t429 + 0.5]
    assert [u for u in updates if u.kind is Kind.RATE_LIMITED]


def test_deadline_stops_with_last_known_states():
    def answer(endpoint, request, now):
        return body(200, muvi_job(request.path.rsplit("/", 1)[1], "processing", 50))

    started = time.monotonic()
    poller = Poller(targets("muvi", ["job_a", "job_b"]),
                    single(interval=0.05, deadline=started + 0.5), FakeHttp(answer))
    stop, _ = run(poller)
    assert stop is Stop.DEADLINE
    assert time.monotonic() - started < 0.8
    assert all(r.job.state is State.RUNNING and r.exit_code(stop) == 5 for r in poller.results())


def j2v_movie(project, status, created):
    return {"project": project, "status": status, "success": status != "error",
            "message": "", "url": f"https://cdn/{project}.mp4" if status == "done" else None,
            "created_at": created, "ended_at": None}


def test_json2video_is_batched_one_list_request_per_hundred_jobs_per_cycle():
    ids = [f"{i:016d}" for i in range(250)]
    outsider = "ZZZZZZZZZZZZZZZZ"  # never in the list: looked up alone
    created = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    cycles = {"n": 0}

    def answer(endpoint, request, now):
        params = request.params
        status = "done" if now > 0.3 else "running"
        if "project" in params:
            return body(200, {"success": True, "movie": j2v_movie(params["project"], status, created)})
        start = int(params.get("next_token") or 0)
        if start == 0:
            cycles["n"] += 1
        page = ids[start:start + 100]
        nxt = start + 100 if start + 100 < len(ids) else None
        return body(200, {"success": True, "movies": [j2v_movie(p, status, created) for p in page],
                          "next_token": str(nxt) if nxt else None, "has_next": nxt is not None})

    http = FakeHttp(answer)
    poller = Poller(targets("json2video", ids + [outsider]),
                    PollOptions(interval=0.05, max_interval=0.1), http)
    stop, _ = run(poller)
    assert stop is Stop.FINISHED
    assert all(r.job.state is State.DONE for r in poller.results())
    lists = [c for c in http.calls if "project" not in c[2]]
    singles = [c for c in http.calls if "project" in c[2]]
    assert len(lists) <= 3 * cycles["n"]  # 250 jobs: 3 pages a cycle at most
    assert {c[2]["project"] for c in singles} == {outsider}
    first = lists[0][2]
    assert first["limit"] == "100" and "date_start" in first and "date_end" in first


def test_five_thousand_jobs_are_cheap():
    ids = [f"job_{i:012x}" for i in range(5000)]
    seen: dict[str, int] = {}

    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        seen[job_id] = seen.get(job_id, 0) + 1
        done = seen[job_id] >= 3
        return body(200, muvi_job(job_id, "completed" if done else "processing", 50))

    started = time.process_time()
    poller = Poller(targets("muvi", ids), single(interval=0.01, max_interval=0.02), FakeHttp(answer))
    stop, updates = run(poller)
    cpu = time.process_time() - started
    assert stop is Stop.FINISHED
    assert sum(1 for u in updates if u.kind is Kind.FINAL) == 5000
    assert cpu < 30, cpu  # ~15,000 lookups with parsing; generous for a noisy machine


def test_muvi_is_listed_and_each_ending_finished_by_one_single_lookup():
    ids = [f"job_{i:012x}" for i in range(150)]
    created = {job_id: f"2026-11-26T06:00:{i % 60:02d}Z" for i, job_id in enumerate(ids)}

    def item(job_id, now):
        done = now > 0.3
        return {"jobId": job_id, "status": "completed" if done else "processing",
                "progress": 100 if done else 50, "createdAt": created[job_id]}

    def answer(endpoint, request, now):
        if request.path == "/v1/jobs":
            wanted = request.params.get("status")
            listed = [item(j, now) for j in ids]
            listed = [i for i in listed if wanted is None or i["status"] == wanted]
            start = int(request.params.get("cursor") or 0)
            more = start + 100 < len(listed)
            return body(200, {"jobs": listed[start:start + 100],
                              "nextCursor": str(start + 100) if more else None, "hasMore": more})
        job_id = request.path.rsplit("/", 1)[1]
        return body(200, muvi_job(job_id, "completed" if now > 0.3 else "processing", 50))

    http = FakeHttp(answer)
    poller = Poller(targets("muvi", ids), PollOptions(interval=0.05, max_interval=0.1), http)
    stop, _ = run(poller)
    assert stop is Stop.FINISHED
    results = poller.results()
    assert all(r.job.state is State.DONE and r.job.url for r in results)  # outputs from the single lookup
    singles = [c for c in http.calls if c[1] != "/v1/jobs"]
    assert sorted(c[1].rsplit("/", 1)[1] for c in singles) == sorted(ids)  # exactly one each
    lists = [c for c in http.calls if c[1] == "/v1/jobs"]
    # Only unfinished jobs are listed (pending, then processing): pages shrink as jobs end.
    assert all(c[2]["limit"] == "100" and c[2]["status"] in ("pending", "processing") for c in lists)
    assert not [c for c in lists if c[0] > 0.35 and c[2].get("cursor")]  # nothing left to page through
