"""The watch loop over a fake HTTP client: every job to its end, retries, 429
pauses, deadlines, thousands of jobs (engine/watch.py, engine/tracking.py)."""

from __future__ import annotations

import time

from jobpoll.engine.schedule import GATHER_FROM_JOBS
from jobpoll.engine.updates import Kind, Stop
from jobpoll.engine.watch import WatchLoop
from jobpoll.errors import UnavailableError
from jobpoll.model import State
from jobpoll.providers.base import Answer

from .fakes import FakeHttp, body, muvi_job, run, single, targets


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

    watcher = WatchLoop(targets("muvi", ids), single(interval=0.02, max_interval=0.05), FakeHttp(answer))
    stop, updates = run(watcher)
    assert stop is Stop.FINISHED
    for job_id in ids:
        kinds = [u.kind for u in updates if u.ref == f"muvi:{job_id}"]
        assert kinds[0] is Kind.SEEN and kinds[-1] is Kind.FINAL
        assert Kind.CHANGED in kinds
    results = {r.ref.id: r for r in watcher.results()}
    assert results[ids[0]].job.state is State.DONE and results[ids[0]].exit_code(stop) == 0
    assert results[ids[4]].job.state is State.FAILED and results[ids[4]].exit_code(stop) == 1


def test_consecutive_failures_abandon_only_that_job():
    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        if job_id.endswith("bad"):
            return Answer(502, {}, b"<html>bad gateway</html>")
        return body(200, muvi_job(job_id, "completed" if now > 0.05 else "processing", 50))

    http = FakeHttp(answer)
    watcher = WatchLoop(targets("muvi", ["job_bad", "job_ok"]),
                    single(interval=0.01, max_interval=0.02, retries=2), http)
    stop, updates = run(watcher)
    bad, ok = watcher.results()
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
    watcher = WatchLoop(targets("muvi", ["job_a", "job_b", "job_c"]),
                    single(interval=0.02, max_interval=0.05, retries=0), http)
    stop, updates = run(watcher)
    assert stop is Stop.FINISHED
    assert all(r.job.state is State.DONE for r in watcher.results())  # a 429 is not a failure
    t429 = state["limited_at"]
    assert not [c for c in http.calls if t429 + 0.01 < c[0] < t429 + 0.5]
    assert [u for u in updates if u.kind is Kind.RATE_LIMITED]


def test_deadline_stops_with_last_known_states():
    def answer(endpoint, request, now):
        return body(200, muvi_job(request.path.rsplit("/", 1)[1], "processing", 50))

    started = time.monotonic()
    watcher = WatchLoop(targets("muvi", ["job_a", "job_b"]),
                    single(interval=0.05, deadline=started + 0.5), FakeHttp(answer))
    stop, _ = run(watcher)
    assert stop is Stop.DEADLINE
    assert time.monotonic() - started < 0.8
    assert all(r.job.state is State.RUNNING and r.exit_code(stop) == 5 for r in watcher.results())


def test_lookups_due_close_together_go_out_together():
    # 60 Pictory jobs, each looked at again 0.5-0.55 s after its last look (its
    # age interval with jitter): the watch wakes for a few bursts of lookups, not
    # once for each (every wake costs CPU: a 1,000-job watch spent a third more).
    ids = [f"{i:08x}-4985-4058-9208-68114f131a2b" for i in range(60)]

    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        status = {"status": "completed", "progress": 100} if now > 1.2 else {"status": "in-progress"}
        return body(200, {"job_id": job_id, "success": True, "data": status})

    http = FakeHttp(answer)
    watcher = WatchLoop(targets("pictory", ids), single(interval=0.5, max_interval=5.0), http)
    wakes = []
    sleep = watcher._sleep
    watcher._sleep = lambda seconds: wakes.append(seconds) or sleep(seconds)
    stop, _ = run(watcher)
    assert stop is Stop.FINISHED
    assert len(http.calls) >= 60 * 3  # each in the queue at 0, 0.5 and 1.0 s; done later
    assert len(wakes) <= 30, len(wakes)  # 150 without the grid


def test_only_a_watch_of_many_jobs_gathers_its_lookups():
    ids = [f"{i:08x}-4985-4058-9208-68114f131a2b" for i in range(GATHER_FROM_JOBS)]
    http = FakeHttp(lambda endpoint, request, now: body(200, {}))
    assert WatchLoop(targets("pictory", ids), single(interval=0.5), http).gather
    assert not WatchLoop(targets("pictory", ids[1:]), single(interval=0.5), http).gather


def test_five_thousand_jobs_are_cheap():
    ids = [f"job_{i:012x}" for i in range(5000)]
    seen: dict[str, int] = {}

    def answer(endpoint, request, now):
        job_id = request.path.rsplit("/", 1)[1]
        seen[job_id] = seen.get(job_id, 0) + 1
        done = seen[job_id] >= 3
        return body(200, muvi_job(job_id, "completed" if done else "processing", 50))

    started = time.process_time()
    watcher = WatchLoop(targets("muvi", ids), single(interval=0.01, max_interval=0.02), FakeHttp(answer))
    stop, updates = run(watcher)
    cpu = time.process_time() - started
    assert stop is Stop.FINISHED
    assert sum(1 for u in updates if u.kind is Kind.FINAL) == 5000
    assert cpu < 30, cpu  # ~15,000 lookups with parsing; generous for a noisy machine


def test_the_watchs_exit_status_follows_specs_precedence():
    from jobpoll.engine.updates import JobResult, watch_exit_code
    from jobpoll.errors import AuthError
    from jobpoll.model import Job
    from jobpoll.refs import JobRef

    def result(state, finished=True):
        return JobResult(JobRef("muvi", "j"), Job("muvi", "j", state, state.value), None, finished)

    done, failed, running = result(State.DONE), result(State.FAILED), result(State.RUNNING, False)
    assert watch_exit_code([done], Stop.FINISHED) == 0
    assert watch_exit_code([done, failed], Stop.FINISHED) == 1
    assert watch_exit_code([done, running], Stop.DEADLINE) == 5
    assert watch_exit_code([failed, running], Stop.INTERRUPTED) == 130
    assert watch_exit_code([failed], Stop.FINISHED, [AuthError("no key")]) == 3
    assert watch_exit_code([running], Stop.FAIL_FAST) == 0  # the job that failed speaks, not the rest
