"""`jobpoll list` and `jobpoll history` end to end: the real command as a
subprocess against a simulator on 127.0.0.1, with the history in tmp_path.

The list tests count jobs and requests, so they use a simulator of their own
(jobs other test modules add to the shared one would show up in listings), and
each test its own API key, with its jobs visible only to that key (`owner`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import PROVIDER_NAMES, assert_clean, clean_env, run_cli

DAY = 86400.0


@pytest.fixture(scope="module")
def lsim():
    from jobpoll.simulator import Simulator

    simulator = Simulator(seed=4)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def key():
    return f"sk-list-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def lenv(tmp_path, lsim, key):
    environment = clean_env(tmp_path)
    for name in PROVIDER_NAMES:
        environment[f"JOBPOLL_{name.upper()}_BASE_URL"] = lsim.url_for(name)
        environment[f"JOBPOLL_{name.upper()}_API_KEY"] = key
    return environment


def rows_of(result) -> list[dict]:
    assert_clean(result)
    return [json.loads(line) for line in result.stdout.splitlines()]


def list_requests(sim, key: str, path: str) -> list[dict]:
    """This test's list requests (by its key) to one list endpoint."""
    found = []
    for entry in sim.requests(path=path):
        if entry["path"] != path or "project" in entry["query"]:
            continue
        headers = entry["headers"]
        if key in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer ")):
            found.append(entry)
    return found


def add(sim, provider: str, key: str, count: int, *, spacing: float = 60.0, offset: float = 10.0, **kw) -> list[str]:
    """`count` finished jobs of one key, created `spacing` seconds apart (newest first)."""
    kw.setdefault("queued", 0)
    kw.setdefault("running", 0)
    return sim.add_jobs(
        [dict(provider=provider, owner=key, age=offset + i * spacing, **kw) for i in range(count)]
    )


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def run_at_once(env, *commands: list[str]) -> None:
    """Every command (`jobpoll ARGS`) started at once; each must succeed without a
    word about the history (no lock it gave up on, no row it failed to write)."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "jobpoll", *args],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in commands
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "history" not in err


# ---- json2video from its API -------------------------------------------------------


def test_json2video_230_movies_over_three_pages(lsim, lenv, key):
    ids = add(lsim, "json2video", key, 230, spacing=600)
    result = run_cli("list", "-p", "json2video", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    rows = rows_of(result)
    assert len(rows) == 230 and {r["id"] for r in rows} == set(ids)
    assert all(r["source"] == "api" and r["provider"] == "json2video" for r in rows)
    created = [parse(r["created_at"]) for r in rows]
    assert created == sorted(created, reverse=True)  # newest first
    requests = list_requests(lsim, key, "/v2/movies")
    assert len(requests) == 3
    assert all(r["query"]["limit"] == "100" for r in requests)
    assert "next_token" not in requests[0]["query"] and all("next_token" in r["query"] for r in requests[1:])


def test_json2video_limit_gives_the_newest(lsim, lenv, key):
    ids = add(lsim, "json2video", key, 230, spacing=600)
    rows = rows_of(run_cli("list", "-p", "json2video", "--limit", "50", "--json", env=lenv))
    assert [r["id"] for r in rows] == ids[:50]
    [request] = list_requests(lsim, key, "/v2/movies")
    assert request["query"]["limit"] == "50"


def test_json2video_defaults_to_the_last_30_days(lsim, lenv, key):
    recent = add(lsim, "json2video", key, 3, spacing=5 * DAY)
    add(lsim, "json2video", key, 2, offset=40 * DAY)
    rows = rows_of(run_cli("list", "-p", "json2video", "--json", env=lenv))
    assert {r["id"] for r in rows} == set(recent)


def test_json2video_200_day_range_comes_back_whole(lsim, lenv, key):
    ids = add(lsim, "json2video", key, 200, spacing=DAY, offset=3600)  # one a day, 200 days
    result = run_cli("list", "-p", "json2video", "--since", "201d", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    rows = rows_of(result)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert len({r["id"] for r in rows}) == len(rows)
    requests = list_requests(lsim, key, "/v2/movies")
    windows = [r["query"] for r in requests if "date_start" in r["query"]]
    assert len(windows) >= 3
    for q in windows:
        assert parse(q["date_end"]) - parse(q["date_start"]) <= timedelta(days=93)


def test_json2video_since_until_dates(lsim, lenv, key):
    now = datetime.now(timezone.utc)
    ids = add(lsim, "json2video", key, 10, spacing=DAY, offset=3600)
    # Jobs 2..5 days old: --since the day 5 days back would include part of that day,
    # so use exact datetimes.
    since = (now - timedelta(days=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now - timedelta(days=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = rows_of(run_cli("list", "-p", "json2video", "--since", since, "--until", until, "--json", env=lenv))
    assert {r["id"] for r in rows} == set(ids[1:5])


def test_json2video_state_filter_is_client_side(lsim, lenv, key):
    done = add(lsim, "json2video", key, 5)
    failed = add(lsim, "json2video", key, 4, outcome="failed", offset=30)
    rows = rows_of(run_cli("list", "-p", "json2video", "--state", "failed", "--json", env=lenv))
    assert {r["id"] for r in rows} == set(failed) and not set(done) & {r["id"] for r in rows}
    assert all(r["state"] == "failed" and r["error"]["message"] for r in rows)
    assert all("status" not in r["query"] for r in list_requests(lsim, key, "/v2/movies"))


# ---- Muvi from its API -------------------------------------------------------------------


def test_muvi_pages_come_back_once_each_and_state_filters(lsim, lenv, key):
    specs = []
    for i in range(250):
        outcome = "failed" if i % 5 == 0 else "done"
        specs.append(dict(provider="muvi", owner=key, queued=0, running=0, outcome=outcome, age=10 + i * 60))
    ids = lsim.add_jobs(specs)
    failed = {ids[i] for i in range(250) if i % 5 == 0}

    result = run_cli("list", "-p", "muvi", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    rows = rows_of(result)
    assert [r["id"] for r in rows] == ids  # once each, newest first
    assert all(r["source"] == "api" for r in rows)
    assert len(list_requests(lsim, key, "/v1/jobs")) == 3  # 100 + 100 + 50

    rows = rows_of(run_cli("list", "-p", "muvi", "--state", "failed", "--json", env=lenv))
    assert {r["id"] for r in rows} == failed and len(rows) == len(failed)
    assert all(r["state"] == "failed" for r in rows)
    last = list_requests(lsim, key, "/v1/jobs")[-1]
    assert last["query"]["status"] == "failed"  # filtered by the server


def test_muvi_since_is_applied_to_created_at_and_stops_paging(lsim, lenv, key):
    ids = add(lsim, "muvi", key, 300, spacing=60)  # one a minute, 5 hours
    rows = rows_of(run_cli("list", "-p", "muvi", "--since", "90m", "--json", env=lenv))
    assert [r["id"] for r in rows] == ids[:90]
    assert len(list_requests(lsim, key, "/v1/jobs")) == 1  # the first page already reaches past --since


def test_muvi_limit(lsim, lenv, key):
    ids = add(lsim, "muvi", key, 150)
    rows = rows_of(run_cli("list", "-p", "muvi", "--limit", "30", "--json", env=lenv))
    assert [r["id"] for r in rows] == ids[:30]
    [request] = list_requests(lsim, key, "/v1/jobs")
    assert request["query"]["limit"] == "30"


# ---- every provider, and the history ----------------------------------------------------


def test_jobs_looked_up_with_status_appear_in_list(lsim, lenv, key):
    pictory_done = add(lsim, "pictory", key, 1)[0]
    pictory_failed = add(lsim, "pictory", key, 1, outcome="failed", offset=20)[0]
    reelbot_done = add(lsim, "reelbot", key, 1, offset=30)[0]
    muvi_done = add(lsim, "muvi", key, 1, offset=40)[0]
    j2v_failed = add(lsim, "json2video", key, 1, outcome="failed", offset=50)[0]
    refs = [f"pictory:{pictory_done}", f"pictory:{pictory_failed}", f"reelbot:{reelbot_done}", f"muvi:{muvi_done}"]
    status = {(j["provider"], j["id"]): j for j in rows_of(run_cli("status", "--json", *refs, env=lenv))}
    assert len(status) == 4

    result = run_cli("list", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    listed = {(r["provider"], r["id"]): r for r in rows_of(result)}
    assert set(listed) == set(status) | {("json2video", j2v_failed)}
    for (provider, job_id), before in status.items():
        row = listed[(provider, job_id)]
        assert row["source"] == ("api" if provider == "muvi" else "history")
        assert (row["state"], row["url"], row["outputs"]) == (before["state"], before["url"], before["outputs"])
    # Muvi list items carry no URLs: the history supplied this one.
    assert listed[("muvi", muvi_done)]["url"] and listed[("muvi", muvi_done)]["url"] == status[("muvi", muvi_done)]["url"]
    assert listed[("reelbot", reelbot_done)]["url"].startswith(lsim.files_url)
    created = [parse(r["created_at"]) for r in rows_of(result) if r["created_at"]]  # Pictory gives none
    assert created == sorted(created, reverse=True)

    failed = rows_of(run_cli("list", "--state", "failed", "--json", env=lenv))
    assert {(r["provider"], r["id"]) for r in failed} == {("pictory", pictory_failed), ("json2video", j2v_failed)}

    only = rows_of(run_cli("list", "-p", "reelbot", "--json", env=lenv))
    assert [(r["id"], r["source"]) for r in only] == [(reelbot_done, "history")]


def test_plain_lines_and_field(lsim, lenv, key):
    job_id = add(lsim, "json2video", key, 1)[0]
    result = run_cli("list", "-p", "json2video", env=lenv)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    cells = line.split("\t")
    assert cells[0] == f"json2video:{job_id}" and cells[1] == "done" and cells[-1] == "api"
    assert "\x1b" not in result.stdout
    result = run_cli("list", "-p", "json2video", "--field", "source", env=lenv)
    assert result.stdout == "api\n"
    result = run_cli("list", "--field", "nope", env=lenv)
    assert result.returncode == 2 and "unknown field" in result.stderr


def test_listed_api_jobs_are_recorded_in_the_history(lsim, lenv, key, tmp_path):
    ids = add(lsim, "json2video", key, 3)
    assert run_cli("list", "-p", "json2video", "--json", env=lenv).returncode == 0
    from jobpoll.history import open_history

    hist = open_history(print, tmp_path / "state" / "history.sqlite3")
    assert set(hist.get_many([("json2video", i) for i in ids])) == {("json2video", i) for i in ids}
    hist.close()


def test_provider_without_key_is_skipped_with_a_note(lsim, lenv, key):
    add(lsim, "json2video", key, 2)
    del lenv["JOBPOLL_MUVI_API_KEY"]
    result = run_cli("list", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    assert len(rows_of(result)) == 2
    assert "muvi skipped: no API key" in result.stderr and "JOBPOLL_MUVI_API_KEY" in result.stderr
    assert list_requests(lsim, key, "/v1/jobs") == []

    result = run_cli("list", "-p", "muvi", env=lenv)
    assert result.returncode == 3
    assert "jobpoll: error: no API key for muvi" in result.stderr


def test_one_provider_failing_does_not_stop_the_others(lsim, lenv, key):
    ids = add(lsim, "json2video", key, 2)
    lenv["JOBPOLL_MUVI_API_KEY"] = "bad-key-for-muvi"
    result = run_cli("list", "--json", env=lenv)
    assert result.returncode == 3  # the auth family, by exits.combine
    assert {r["id"] for r in rows_of(result)} == set(ids)
    [error] = [line for line in result.stderr.splitlines() if line.startswith("jobpoll: error:")]
    assert "muvi" in error and "INVALID_API_KEY" in error
    assert "bad-key-for-muvi" not in result.stderr


@pytest.mark.parametrize("args,words", [
    (("--since", "yesterday"), "invalid --since 'yesterday'"),
    (("--since", "7"), "invalid --since '7'"),
    (("--until", "2026-02-30"), "no such date"),
    (("--since", "1d", "--until", "2d"), "is after --until"),
    (("--state", "finished"), "invalid --state 'finished'"),
    (("--limit", "0"), "--limit"),
    (("-p", "vimeo"), "unknown provider 'vimeo'"),
])
def test_bad_options_are_usage_errors(lsim, lenv, key, args, words):
    result = run_cli("list", *args, env=lenv)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert list_requests(lsim, key, "/v2/movies") == list_requests(lsim, key, "/v1/jobs") == []


# ---- a history that cannot be used ------------------------------------------------------


@pytest.mark.parametrize("kind", ["garbage", "directory"])
def test_unusable_history_warns_and_answers_from_the_api(lsim, lenv, key, tmp_path, kind):
    path = tmp_path / "state" / "history.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(b"\x00garbage, not SQLite\n" * 500)
    else:
        path.mkdir()
    ids = add(lsim, "json2video", key, 2)
    muvi_id = add(lsim, "muvi", key, 1)[0]

    result = run_cli("list", "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    assert {r["id"] for r in rows_of(result)} == set(ids) | {muvi_id}
    warnings = [line for line in result.stderr.splitlines() if "job history" in line]
    assert warnings == [f"jobpoll: warning: cannot use the job history at {path}: "
                        + warnings[0].split(f"{path}: ", 1)[1]]
    assert warnings[0].endswith("going on without it")

    result = run_cli("status", "--json", f"muvi:{muvi_id}", env=lenv)
    assert result.returncode == 0, result.stderr
    assert rows_of(result)[0]["state"] == "done"
    assert "cannot use the job history" in result.stderr
    if kind == "garbage":
        assert path.read_bytes().startswith(b"\x00garbage")  # left as it was


# ---- status: the 404-after-done fallback ---------------------------------------------------


def test_status_falls_back_to_the_stored_final_state_after_a_404(lsim, lenv, key):
    job_id = lsim.add_job("pictory", owner=key, queued=0, running=0,
                          faults=[{"kind": "404", "after": 1, "times": -1}])
    first = run_cli("status", "--json", f"pictory:{job_id}", env=lenv)
    assert first.returncode == 0, first.stderr
    [before] = rows_of(first)
    assert before["state"] == "done" and before["url"]

    again = run_cli("status", "--json", f"pictory:{job_id}", env=lenv)
    assert again.returncode == 0, again.stderr
    [after] = rows_of(again)
    assert (after["state"], after["url"], after["checked_at"]) == ("done", before["url"], before["checked_at"])
    assert "no longer knows this job" in again.stderr and "jobpoll: warning:" in again.stderr

    unknown = lsim.add_job("pictory", owner=key, queued=0, running=0,
                           faults=[{"kind": "404", "times": -1}])
    never_seen = run_cli("status", f"pictory:{unknown}", env=lenv)
    assert never_seen.returncode == 4  # no history of it: still "not found"


# ---- history commands -----------------------------------------------------------------------


def test_history_path_and_prune(lenv, tmp_path):
    path = tmp_path / "state" / "history.sqlite3"
    result = run_cli("history", "path", env=lenv)
    assert result.returncode == 0 and result.stdout.strip() == str(path)

    from jobpoll.history import open_history
    from jobpoll.model import Job, State, iso_utc

    now = datetime.now(timezone.utc)
    hist = open_history(print, path)
    hist.record([
        Job("reelbot", f"old{i}", State.DONE, "completed", checked_at=iso_utc(now - timedelta(days=100 + i)))
        for i in range(3)
    ] + [Job("reelbot", "recent", State.DONE, "completed", checked_at=iso_utc(now - timedelta(days=10)))])
    hist.close()

    result = run_cli("history", "prune", "--older-than", "90d", env=lenv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed 3 jobs last checked before ")
    rows = rows_of(run_cli("list", "-p", "reelbot", "--json", env=lenv))
    assert [r["id"] for r in rows] == ["recent"]

    result = run_cli("history", "prune", "--older-than", "soon", env=lenv)
    assert result.returncode == 2 and "invalid --older-than" in result.stderr


def test_prune_on_an_unusable_history_is_an_error(lenv, tmp_path):
    (tmp_path / "state" / "history.sqlite3").mkdir(parents=True)
    result = run_cli("history", "prune", "--older-than", "90d", env=lenv)
    assert result.returncode == 6
    assert result.stderr.strip().endswith("is a directory, not a file; nothing pruned")
    assert "going on without it" not in result.stderr


# ---- several writers at once ----------------------------------------------------------------


def test_two_status_runs_at_once_lose_no_row(lsim, lenv, key, tmp_path):
    first = add(lsim, "muvi", key, 120)
    second = add(lsim, "json2video", key, 120)
    run_at_once(
        lenv,
        ["status", "--json", *(f"muvi:{i}" for i in first)],
        ["status", "--json", *(f"json2video:{i}" for i in second)],
    )
    from jobpoll.history import open_history

    hist = open_history(print, tmp_path / "state" / "history.sqlite3")
    assert hist.count() == 240
    hist.close()


# ---- list | watch ------------------------------------------------------------------------------


def _watch_exists(env) -> bool:
    return run_cli("watch", "--help", env=env).returncode == 0


def test_list_json_pipes_into_watch(lsim, lenv, key):
    if not _watch_exists(lenv):
        pytest.skip("`jobpoll watch` has not landed yet (issue: watch); the pipe is tested once it has")
    ids = add(lsim, "json2video", key, 3)
    listed = run_cli("list", "-p", "json2video", "--json", env=lenv)
    assert listed.returncode == 0, listed.stderr
    watched = run_cli("watch", "--json", "-", env=lenv, input=listed.stdout, timeout=60)
    assert watched.returncode == 0, watched.stderr
    finals = {}
    for row in rows_of(watched):
        finals[row["id"]] = row["state"]
    assert finals == {i: "done" for i in ids}


def test_two_watch_processes_lose_no_row(lsim, lenv, key, tmp_path):
    if not _watch_exists(lenv):
        pytest.skip("`jobpoll watch` has not landed yet (issue: watch); the concurrent writers are tested once it has")
    first = add(lsim, "muvi", key, 100, running=1, queued=0)
    second = add(lsim, "json2video", key, 100, running=1, queued=0)
    run_at_once(
        lenv,
        ["watch", "--json", "-i", "0.2", *(f"muvi:{i}" for i in first)],
        ["watch", "--json", "-i", "0.2", *(f"json2video:{i}" for i in second)],
    )
    from jobpoll.history import open_history

    hist = open_history(print, tmp_path / "state" / "history.sqlite3")
    found = hist.get_many([("muvi", i) for i in first] + [("json2video", i) for i in second])
    assert len(found) == 200 and all(j.state.value == "done" for j in found.values())
    hist.close()


# ---- json2video's documented 400s ---------------------------------------------------------


class _FakeHttp:
    """Answers every request with one canned answer (for errors the simulator
    only gives to requests jobpoll never sends)."""

    def __init__(self, status: int, body: dict):
        from jobpoll.providers.base import Answer

        self.answer = Answer(status, {"content-type": "application/json"}, json.dumps(body).encode())
        self.requests = []

    def get(self, endpoint, request):
        self.requests.append(request)
        return self.answer


@pytest.mark.parametrize("message,hint", [
    ("Invalid start date", "check --since/--until"),
    ("Invalid end date", "check --since/--until"),
    ("Maximum date range is 3 months.", "windows of at most 93 days"),
])
def test_json2video_400s_are_explained(message, hint):
    from jobpoll.config import Endpoint
    from jobpoll.errors import UsageError
    from jobpoll.listing import ListQuery, list_from_api
    from jobpoll.providers import get_provider

    endpoint = Endpoint(get_provider("json2video"), "http://127.0.0.1:9", "k", "env", None, "env")
    http = _FakeHttp(400, {"success": False, "message": message})
    now = datetime.now(timezone.utc)
    jobs, error = list_from_api(http, endpoint, ListQuery(["json2video"], True), now)
    assert jobs == [] and isinstance(error, UsageError) and len(http.requests) == 1  # a 400 is not retried
    line = error.line()
    assert message in line and hint in line


@pytest.mark.parametrize("span", ["400000d", "700000d"])
def test_prune_with_a_span_back_before_year_1000_keeps_newer_jobs(lenv, tmp_path, span):
    from jobpoll.history import open_history
    from jobpoll.model import Job, State, iso_utc

    path = tmp_path / "state" / "history.sqlite3"
    now = datetime.now(timezone.utc)
    hist = open_history(print, path)
    hist.record([Job("reelbot", f"job{i}", State.DONE, "completed",
                     checked_at=iso_utc(now - timedelta(days=400 * i))) for i in range(3)])
    hist.close()
    result = run_cli("history", "prune", "--older-than", span, env=lenv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed 0 jobs last checked before 0")  # a 4-digit year
    rows = rows_of(run_cli("list", "-p", "reelbot", "--json", env=lenv))
    assert sorted(r["id"] for r in rows) == ["job0", "job1", "job2"]


@pytest.mark.parametrize("span", ["800000d", "120000w"])
def test_prune_with_a_span_reaching_before_year_1_is_refused(lenv, tmp_path, span):
    result = run_cli("history", "prune", "--older-than", span, env=lenv)
    assert result.returncode == 2
    assert result.stderr == (f"jobpoll: error: --older-than {span} reaches back before the year 1; "
                             "nothing pruned\n")
