"""Batching: many jobs looked up through the provider's list endpoint
(engine/batch.py), over a fake HTTP client."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from jobpoll.engine.updates import PollOptions, Stop
from jobpoll.engine.watch import WatchLoop
from jobpoll.model import State

from .fakes import FakeHttp, body, muvi_job, run, targets


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
    watcher = WatchLoop(targets("json2video", ids + [outsider]),
                    PollOptions(interval=0.05, max_interval=0.1), http)
    stop, _ = run(watcher)
    assert stop is Stop.FINISHED
    assert all(r.job.state is State.DONE for r in watcher.results())
    lists = [c for c in http.calls if "project" not in c[2]]
    singles = [c for c in http.calls if "project" in c[2]]
    assert len(lists) <= 3 * cycles["n"]  # 250 jobs: 3 pages a cycle at most
    assert {c[2]["project"] for c in singles} == {outsider}
    first = lists[0][2]
    assert first["limit"] == "100" and "date_start" in first and "date_end" in first


def test_a_json2video_batch_makes_jobs_of_its_members_only(monkeypatch):
    """The list window holds the account's other renders too (here five for each
    watched one): only the watched ones are made jobs, cycle after cycle."""
    from jobpoll.providers.json2video import Json2Video

    ids = [f"{i:016d}" for i in range(20)]
    others = [f"X{i:015d}" for i in range(100)]
    created = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    made: list[str] = []
    movie_job = Json2Video._movie_job

    def counted(self, project, movie, now):
        made.append(project)
        return movie_job(self, project, movie, now)

    monkeypatch.setattr(Json2Video, "_movie_job", counted)

    def answer(endpoint, request, now):
        status = "done" if now > 0.3 else "running"
        movies = [j2v_movie(p, status, created) for p in ids + others]
        return body(200, {"success": True, "movies": movies, "next_token": None, "has_next": False})

    http = FakeHttp(answer)
    watcher = WatchLoop(targets("json2video", ids), PollOptions(interval=0.05, max_interval=0.1), http)
    stop, _ = run(watcher)
    assert stop is Stop.FINISHED and all(r.job.state is State.DONE for r in watcher.results())
    assert len(http.calls) >= 2  # more than one cycle
    assert made and set(made) <= set(ids)


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
    watcher = WatchLoop(targets("muvi", ids), PollOptions(interval=0.05, max_interval=0.1), http)
    stop, _ = run(watcher)
    assert stop is Stop.FINISHED
    results = watcher.results()
    assert all(r.job.state is State.DONE and r.job.url for r in results)  # outputs from the single lookup
    singles = [c for c in http.calls if c[1] != "/v1/jobs"]
    assert sorted(c[1].rsplit("/", 1)[1] for c in singles) == sorted(ids)  # exactly one each
    lists = [c for c in http.calls if c[1] == "/v1/jobs"]
    # Only unfinished jobs are listed (pending, then processing): pages shrink as jobs end.
    assert all(c[2]["limit"] == "100" and c[2]["status"] in ("pending", "processing") for c in lists)
    assert not [c for c in lists if c[0] > 0.35 and c[2].get("cursor")]  # nothing left to page through


def test_a_job_ended_on_the_first_page_is_reported_before_the_next_page_is_asked_for():
    # 10,000 jobs make a list cycle of a hundred pages: each page's jobs count as it
    # arrives, not when the last page has.
    ids = [f"{i:016d}" for i in range(250)]
    created = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    updates = []
    finals_when_asked = []

    def answer(endpoint, request, now):
        start = int(request.params.get("next_token") or 0)
        if start:
            finals_when_asked.append(sum(1 for u in updates if u.kind.value == "final"))
        page = ids[start:start + 100]
        nxt = start + 100 if start + 100 < len(ids) else None
        # The first job has ended from the start; the rest end after 0.3 s.
        movies = [j2v_movie(p, "done" if p == ids[0] or now > 0.3 else "running", created) for p in page]
        return body(200, {"success": True, "movies": movies,
                          "next_token": str(nxt) if nxt else None, "has_next": nxt is not None})

    watcher = WatchLoop(targets("json2video", ids), PollOptions(interval=0.05, max_interval=0.1),
                        FakeHttp(answer))
    stop = asyncio.run(watcher.run(updates.append))
    assert stop is Stop.FINISHED
    assert finals_when_asked[0] == 1  # the first job's ending was out before page 2 was asked for


def test_a_list_cycle_comes_round_at_the_providers_interval_however_long_its_paging_takes():
    # With thousands of jobs a cycle is many pages, each a round trip: the next cycle
    # is due an interval after this one started, not after its last page, or every
    # job would be seen that much later than the cadence promises.
    ids = [f"{i:016d}" for i in range(250)]  # 3 pages a cycle
    created = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    page_time, interval = 0.15, 0.5  # a cycle's paging takes ~0.45 s
    starts = []

    class SlowPages(FakeHttp):
        async def get(self, endpoint, request):
            await asyncio.sleep(page_time)
            return await super().get(endpoint, request)

    def answer(endpoint, request, now):
        start = int(request.params.get("next_token") or 0)
        if start == 0:
            starts.append(now)
        status = "done" if len(starts) > 4 else "running"
        page = ids[start:start + 100]
        nxt = start + 100 if start + 100 < len(ids) else None
        return body(200, {"success": True, "movies": [j2v_movie(p, status, created) for p in page],
                          "next_token": str(nxt) if nxt else None, "has_next": nxt is not None})

    watcher = WatchLoop(targets("json2video", ids), PollOptions(interval=interval, max_interval=5.0),
                        SlowPages(answer))
    stop, _ = run(watcher)
    assert stop is Stop.FINISHED
    gaps = sorted(b - a for a, b in zip(starts, starts[1:]))
    assert len(gaps) >= 4
    # Start to start: ~0.5 s. Counted from each cycle's end it would be ~0.95 s.
    assert gaps[len(gaps) // 2] < interval + 0.2, gaps
