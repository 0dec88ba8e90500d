"""`jobpoll status` end to end: the real command against the simulator over HTTP."""

from __future__ import annotations

import json
import re

import pytest

from conftest import PROVIDER_NAMES, TEST_KEY, assert_clean, run_cli

# (provider, add_job kwargs, expected state, expected provider status word)
STATE_ROWS = [
    ("json2video", dict(queued=600), "queued", "pending"),
    ("json2video", dict(queued=0, running=600), "running", "running"),
    ("json2video", dict(queued=0, running=0), "done", "done"),
    ("json2video", dict(queued=0, running=0, outcome="failed"), "failed", "error"),
    ("json2video", dict(queued=0, running=0, outcome="stuck", age=16 * 60), "timeout", "running"),
    ("pictory", dict(queued=600), "queued", "in-progress"),
    ("pictory", dict(queued=0, running=600), "running", "in-progress"),
    ("pictory", dict(queued=0, running=0), "done", "completed"),
    ("pictory", dict(queued=0, running=0, outcome="failed"), "failed", "failed"),
    ("pictory", dict(queued=0, running=0, outcome="cleaned", retention=0), "expired", "cleaned"),
    ("muvi", dict(queued=600), "queued", "pending"),
    ("muvi", dict(queued=0, running=600), "running", "processing"),
    ("muvi", dict(queued=0, running=0), "done", "completed"),
    ("muvi", dict(queued=0, running=0, outcome="failed"), "failed", "failed"),
    ("muvi", dict(queued=0, running=0, outcome="cancelled"), "cancelled", "cancelled"),
    ("muvi", dict(queued=0, running=0, wrapped=True), "done", "completed"),
    ("reelbot", dict(queued=600), "queued", "queued"),
    ("reelbot", dict(queued=0, running=600), "running", "processing"),
    ("reelbot", dict(queued=0, running=0), "done", "completed"),
    ("reelbot", dict(queued=0, running=0, outcome="failed"), "failed", "failed"),
]


def status_json(env, *refs, extra=()):
    result = run_cli("status", "--json", *extra, *refs, env=env)
    assert_clean(result)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result, lines


@pytest.mark.parametrize("provider,kwargs,state,word", STATE_ROWS, ids=lambda v: str(v)[:30])
def test_state_mapping_end_to_end(sim, env, provider, kwargs, state, word):
    job_id = sim.add_job(provider, **kwargs)
    result, [job] = status_json(env, f"{provider}:{job_id}")
    assert result.returncode == 0, result.stderr
    assert (job["provider"], job["id"], job["state"], job["status"]) == (provider, job_id, state, word)
    if state == "done":
        assert job["url"] and job["url"].startswith("http")
        assert job["progress"] == 100
        assert any(o["type"] == "video" and o["url"] == job["url"] for o in job["outputs"])
    if state == "failed":
        assert job["error"]["message"]
    if state in ("queued", "running"):
        assert job["url"] is None and job["ended_at"] is None


def test_job_object_keys_are_the_contract(sim, env):
    job_id = sim.add_job("muvi", queued=0, running=0)
    _, [job] = status_json(env, f"muvi:{job_id}")
    assert list(job) == [
        "provider", "id", "state", "status", "progress", "message", "url", "outputs",
        "error", "created_at", "updated_at", "ended_at", "duration", "checked_at",
    ]
    assert job["checked_at"].endswith("Z") and job["created_at"].endswith("Z")


def test_raw_carries_the_payload_without_the_key(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=0)
    result, [job] = status_json(env, f"pictory:{job_id}", extra=("--raw",))
    assert job["raw"]["status"] == "completed"
    assert TEST_KEY not in result.stdout


def test_pictory_progress_while_rendering(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=600)
    _, [job] = status_json(env, f"pictory:{job_id}")
    assert job["state"] == "running" and 0 <= job["progress"] < 100


def test_reelbot_download_url_is_fetched_once_and_reused(sim, env):
    job_id = sim.add_job("reelbot", queued=0, running=0)
    for _ in range(2):
        _, [job] = status_json(env, f"reelbot:{job_id}")
        assert job["state"] == "done" and job["url"]
    downloads = [r for r in sim.requests() if r["path"].endswith(f"/download/{job_id}")]
    assert len(downloads) == 1


def test_results_come_in_argument_order(sim, env):
    refs = [f"muvi:{sim.add_job('muvi', queued=0, running=0)}",
            f"reelbot:{sim.add_job('reelbot', queued=600)}",
            f"json2video:{sim.add_job('json2video', queued=0, running=0)}"]
    _, jobs = status_json(env, *refs)
    assert [f"{j['provider']}:{j['id']}" for j in jobs] == refs


def test_field_prints_bare_values(sim, env):
    done = sim.add_job("muvi", queued=0, running=0)
    queued = sim.add_job("muvi", queued=600)
    result = run_cli("status", "--field", "url", f"muvi:{done}", f"muvi:{queued}", env=env)
    lines = result.stdout.split("\n")
    assert lines[0].startswith("http") and lines[1] == ""
    bad = run_cli("status", "--field", "nosuch", f"muvi:{done}", env=env)
    assert bad.returncode == 2 and "unknown field" in bad.stderr


def test_plain_lines_in_a_pipe(sim, env):
    job_id = sim.add_job("muvi", queued=0, running=0)
    result = run_cli("status", f"muvi:{job_id}", env=env)
    assert result.returncode == 0
    cells = result.stdout.rstrip("\n").split("\t")
    assert cells[:3] == [f"muvi:{job_id}", "done", "100%"]
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("flag,kwargs,code", [
    ("--exit-status", dict(queued=0, running=0, outcome="failed"), 1),
    ("--exit-status", dict(queued=600), 5),
    ("--exit-status", dict(queued=0, running=0), 0),
    (None, dict(queued=0, running=0, outcome="failed"), 0),
])
def test_exit_status(sim, env, flag, kwargs, code):
    job_id = sim.add_job("muvi", **kwargs)
    args = ["status", f"muvi:{job_id}"] + ([flag] if flag else [])
    assert run_cli(*args, env=env).returncode == code


@pytest.mark.parametrize("provider", ["json2video", "pictory", "muvi", "reelbot"])
def test_rejected_key_exits_3_with_one_line(sim, env, provider):
    job_id = sim.add_job(provider, queued=0, running=0)
    bad_key = "bad-key-0123456789"
    env[f"JOBPOLL_{provider.upper()}_API_KEY"] = bad_key
    result = run_cli("status", f"{provider}:{job_id}", env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("jobpoll: error: ") and result.stderr.count("\n") == 1
    assert "set-key" in result.stderr or "API_KEY" in result.stderr
    assert_clean(result, bad_key)


def test_missing_key_says_how_to_fix(sim, env):
    del env["JOBPOLL_MUVI_API_KEY"]
    result = run_cli("status", "muvi:job_abc123def456", env=env)
    assert result.returncode == 3
    assert "jobpoll config set-key muvi" in result.stderr and "JOBPOLL_MUVI_API_KEY" in result.stderr


@pytest.mark.parametrize("provider,job_id", [
    ("pictory", "265a7c1a-4985-4058-9208-68114f131a2b"),
    ("muvi", "job_000000000000"),
    ("reelbot", "nosuchproject1"),
])
def test_unknown_job_exits_4(sim, env, provider, job_id):
    result = run_cli("status", f"{provider}:{job_id}", env=env)
    assert result.returncode == 4, result.stderr
    assert f"{provider}:{job_id}" in result.stderr
    assert_clean(result)


def test_json2video_unknown_project_is_a_failed_render_as_documented(sim, env):
    result, [job] = status_json(env, "json2video:AAAAAAAAAAAAAAAA")
    assert job["state"] == "failed" and job["status"] == "error"


@pytest.mark.parametrize("ref", [
    "json2video:short", "pictory:not-a-uuid", "muvi:../../etc", "muvi:a/b", "nosuch:abc",
    "reelbot:" + "x" * 129, "muvi:has space",
])
def test_bad_reference_exits_2_and_sends_nothing(sim, env, ref):
    before = len(sim.requests())
    result = run_cli("status", ref, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("jobpoll: error: ")
    assert len(sim.requests()) == before


def test_one_bad_reference_stops_the_whole_call_before_any_request(sim, env):
    good = sim.add_job("muvi", queued=0, running=0)
    before = len(sim.requests())
    result = run_cli("status", f"muvi:{good}", "json2video:bad", env=env)
    assert result.returncode == 2
    assert len(sim.requests()) == before


def test_bare_id_needs_a_provider(sim, env):
    job_id = sim.add_job("muvi", queued=0, running=0)
    ambiguous = run_cli("status", job_id, env=env)
    assert ambiguous.returncode == 2 and "PROVIDER:" in ambiguous.stderr
    assert run_cli("status", "-p", "muvi", job_id, env=env).returncode == 0
    for name in PROVIDER_NAMES:  # muvi: the only provider with a key
        if name != "muvi":
            del env[f"JOBPOLL_{name.upper()}_API_KEY"]
    assert run_cli("status", job_id, env=env).returncode == 0


def test_references_from_stdin(sim, env):
    a = sim.add_job("muvi", queued=0, running=0)
    b = sim.add_job("reelbot", queued=0, running=0)
    lines = f'muvi:{a}\n{{"provider": "reelbot", "id": "{b}", "state": "done"}}\n'
    result = run_cli("status", "--field", "id", "-", env=env, input=lines)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [a, b]


def test_no_reference_at_all_is_a_usage_error(sim, env):
    result = run_cli("status", env=env, input="")
    assert result.returncode == 2 and "no job given" in result.stderr


def test_transient_failures_are_retried(sim, env):
    job_id = sim.add_job("muvi", queued=0, running=0, faults=[{"kind": "503", "times": 1}, {"kind": "truncated", "times": 1, "after": 1}])
    result, [job] = status_json(env, f"muvi:{job_id}")
    assert result.returncode == 0 and job["state"] == "done"


@pytest.mark.parametrize("kind", ["500", "truncated", "invalid_json", "huge"])
def test_permanent_failure_exits_6(sim, env, kind):
    job_id = sim.add_job("muvi", queued=0, running=0, faults=[{"kind": kind, "times": -1}])
    result = run_cli("status", f"muvi:{job_id}", env=env)
    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith(f"jobpoll: error: muvi:{job_id}: ")
    assert_clean(result)


def test_unreachable_provider_exits_6(env):
    env["JOBPOLL_MUVI_BASE_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
    result = run_cli("status", "muvi:job_abc123def456", env=env)
    assert result.returncode == 6 and "cannot reach muvi" in result.stderr
    assert_clean(result)


def test_short_rate_limit_is_waited_out(sim, env):
    job_id = sim.add_job("reelbot", queued=0, running=600, faults=[{"kind": "429", "times": 1, "seconds": 1}])
    result, [job] = status_json(env, f"reelbot:{job_id}")
    assert result.returncode == 0 and job["state"] == "running"
    hits = [r["t"] for r in sim.requests() if r["path"].endswith(job_id)]
    assert len(hits) == 2 and hits[1] - hits[0] >= 0.9


def test_a_rate_limit_wait_says_what_it_waits_for_and_until_when(sim, env):
    # A silent 429 wait looks like a hang (issue 14, item 2): one line per wait,
    # however many jobs wait on it, before the wait starts.
    ids = [sim.add_job("reelbot", queued=0, running=600, faults=[{"kind": "429", "times": 1, "seconds": 1}])
           for _ in range(3)]
    result = run_cli("status", *(f"reelbot:{i}" for i in ids), env=env)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3
    notices = [line for line in result.stderr.splitlines() if "rate limited" in line]
    assert 1 <= len(notices) <= 2, result.stderr  # the three 429s may straddle a second
    assert re.search(r"reelbot rate limited the key \(429\): waiting until \d\d:\d\d:\d\dZ \(\d+ s\)",
                     notices[0])
    assert_clean(result)
    limited = sim.add_job("reelbot", queued=0, running=600, faults=[{"kind": "429", "times": 1, "seconds": 1}])
    quiet = run_cli("-q", "status", f"reelbot:{limited}", env=env)
    assert quiet.returncode == 0 and "rate limited" not in quiet.stderr


@pytest.mark.parametrize("provider", ["json2video", "pictory", "muvi", "reelbot"])
def test_redirect_to_another_origin_never_carries_the_key(sim, env, provider):
    job_id = sim.add_job(provider, queued=0, running=0, faults=[{"kind": "redirect", "times": -1}])
    result = run_cli("status", f"{provider}:{job_id}", env=env)
    assert result.returncode == 6 and "another origin" in result.stderr
    foreign = [r for r in sim.requests() if r["origin"] == "foreign"]
    assert all(TEST_KEY not in json.dumps(r["headers"]) for r in foreign)
    assert_clean(result)


def test_same_origin_redirect_is_followed_with_the_key(sim, env):
    job_id = sim.add_job("reelbot", queued=0, running=600, faults=[{"kind": "redirect_same", "times": 1}])
    result, [job] = status_json(env, f"reelbot:{job_id}")
    assert result.returncode == 0 and job["state"] == "running"


def test_verbose_logs_requests_with_the_key_redacted(sim, env):
    for provider in ("json2video", "muvi", "reelbot", "pictory"):
        job_id = sim.add_job(provider, queued=0, running=0)
        result = run_cli("-v", "status", f"{provider}:{job_id}", env=env)
        assert result.returncode == 0
        assert "> GET " in result.stderr and "< 200" in result.stderr
        assert_clean(result)


def test_exit_code_precedence_over_several_jobs(sim, env):
    failed = sim.add_job("muvi", queued=0, running=0, outcome="failed")
    running = sim.add_job("muvi", queued=600)
    result = run_cli("status", "--exit-status", f"muvi:{failed}", f"muvi:{running}", "muvi:job_000000000000", env=env)
    assert result.returncode == 4  # not found beats failed beats unfinished
    assert len(result.stdout.splitlines()) == 2


def test_closed_pipe_ends_quietly(sim, env, tmp_path):
    import subprocess
    import sys

    ids = [sim.add_job("muvi", queued=0, running=0) for _ in range(3)]
    cmd = f"'{sys.executable}' -m jobpoll status --json " + " ".join(f"muvi:{i}" for i in ids) + " | head -c 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, text=True)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_pictory_cleaned_job_shows_the_history_ending(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=0, outcome="cleaned", retention=30)
    _, [first] = status_json(env, f"pictory:{job_id}")
    assert first["state"] == "done" and first["url"]
    sim.advance(31)  # Pictory cleans it up
    result, [later] = status_json(env, f"pictory:{job_id}", extra=("--exit-status",))
    assert result.returncode == 0
    assert (later["state"], later["url"]) == ("done", first["url"])
    assert "removed this job's data" in result.stderr


def test_pictory_cleaned_job_without_history_is_expired(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=0, outcome="cleaned", retention=0)
    result, [job] = status_json(env, f"pictory:{job_id}", extra=("--exit-status",))
    assert result.returncode == 1 and job["state"] == "expired"


def test_provider_400_is_a_usage_error_with_its_message(tmp_path):
    """json2video's quirk: an unknown project answered as 400 with an internal error."""
    from conftest import clean_env
    from jobpoll.simulator import Simulator

    with Simulator() as own:
        own.configure(json2video_unknown_project=400)
        environment = clean_env(tmp_path)
        environment.update(JOBPOLL_JSON2VIDEO_BASE_URL=own.base_url, JOBPOLL_JSON2VIDEO_API_KEY=TEST_KEY)
        result = run_cli("status", "json2video:AAAAAAAAAAAAAAAA", env=environment)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "json2video refused the request: Internal error" in result.stderr
    assert_clean(result)


def test_a_key_stored_with_set_key_is_used_by_status(sim, env):
    job_id = sim.add_job("muvi", queued=0, running=0)
    del env["JOBPOLL_MUVI_API_KEY"]
    stored = run_cli("config", "set-key", "muvi", env=env, input="sk-stored-key-123456\n")
    assert stored.returncode == 0, stored.stderr
    result, [job] = status_json(env, f"muvi:{job_id}")
    assert result.returncode == 0 and job["state"] == "done"
    sent = [r for r in sim.requests() if r["path"].endswith(job_id)][-1]
    assert sent["headers"]["authorization"] == "Bearer sk-stored-key-123456"


def test_at_a_terminal_a_table_then_each_url_whole(sim, env):
    from ptyrun import run_on_pty

    done = sim.add_job("reelbot", queued=0, running=0)  # a long pre-signed URL
    failed = sim.add_job("muvi", queued=0, running=0, outcome="failed")
    code, screen, _ = run_on_pty(["status", f"reelbot:{done}", f"muvi:{failed}"], env, timeout=60, cols=80)
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode())  # colours and bold
    assert code == 0
    lines = text.replace("\r", "").splitlines()
    header = next(line for line in lines if line.startswith("JOB"))
    assert "STATE" in header and "PROGRESS" in header and "ERROR / MESSAGE" in header
    assert any(line.startswith(f"muvi:{failed}") and "failed" in line for line in lines)
    url_line = next(line for line in lines if line.startswith(f"reelbot:{done}") and "http" in line)
    url = json.loads(run_cli("status", "--json", f"reelbot:{done}", env=env).stdout)["url"]
    assert url_line.split()[-1] == url  # one line, whole, however wide the terminal


def test_ctrl_c_ends_a_status_of_several_jobs_at_once(sim, env):
    """Workers waiting out a long 429 do not hold the command after Ctrl-C."""
    import signal
    import subprocess
    import sys
    import time

    ids = [sim.add_job("reelbot", queued=0, running=600, faults=[{"kind": "429", "times": -1, "seconds": 10}])
           for _ in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "jobpoll", "status", *[f"reelbot:{i}" for i in ids]],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while sum(r["path"].endswith(tuple(ids)) for r in sim.requests()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # every worker has met its 429 and is waiting
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    assert time.monotonic() - sent < 5
