"""Faults survived or reported truthfully, end to end (issue 6).

Every fault kind the simulator can inject (latency, resets, 5xx HTML pages,
truncated and invalid JSON, answers of the wrong shape, unknown status words, 429
bursts, slow-drip bodies, huge bodies, redirects to another origin) meets the real
`status` and `watch` commands:
- transient (fewer times than jobpoll retries): the job ends in its true state;
- permanent: exit 6 with one `jobpoll: error:` line naming the job, the job never
  reported done, and its last known state kept in the history.

Many jobs share one run (each with its own fault) so the whole file stays fast on
a noisy 2-core box; per-job faults hit single lookups only, so watch runs use
Pictory (never batched) plus one job of each other provider (one job alone is
looked up singly too).
"""

from __future__ import annotations

import json
import signal
import time
import uuid

from conftest import FAST, TEST_KEY, assert_clean, run_cli, start_cli, wait_until


# The simulator's phase -> the state jobpoll must end with.
TRUE_STATE = {"done": "done", "failed": "failed", "cancelled": "cancelled",
              "running": "running", "queued": "queued", "cleaned": "expired"}


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def last_by_ref(lines: list[dict]) -> dict[str, dict]:
    return {f"{line['provider']}:{line['id']}": line for line in lines}


def truth(sim, ref: str) -> str:
    provider, job_id = ref.split(":", 1)
    return TRUE_STATE[sim.phase(provider, job_id)]


def error_lines(stderr: str) -> dict[str, str]:
    """`jobpoll: error: REF: ...` lines by REF."""
    out = {}
    for line in stderr.splitlines():
        if line.startswith("jobpoll: error: "):
            ref = line[len("jobpoll: error: "):].split(": ", 1)[0]
            assert ref not in out, f"two error lines for {ref}:\n{stderr}"
            out[ref] = line
    return out


def history_rows(env, provider: str) -> dict[str, dict]:
    result = run_cli("list", "--json", "-p", provider, env=env)
    assert result.returncode == 0, result.stderr
    return {f"{r['provider']}:{r['id']}": r for r in ndjson(result.stdout)}


def own_reelbot_key(env) -> None:
    # Reelbot's 60-a-minute budget is per key and the session simulator is shared.
    env["JOBPOLL_REELBOT_API_KEY"] = f"sk-reelbot-{uuid.uuid4().hex[:12]}"


# Faults that break an answer, by name: (kind, params). Each is a failed lookup.
BREAKING = {
    "reset": {"kind": "reset"},
    "500-html": {"kind": "500"},
    "502-html": {"kind": "502"},
    "503-html": {"kind": "503"},
    "truncated": {"kind": "truncated"},
    "truncated-close": {"kind": "truncated", "close": True},
    "invalid-json": {"kind": "invalid_json"},
    "array": {"kind": "wrong_shape", "shape": "array"},
    "null": {"kind": "wrong_shape", "shape": "null"},
    "number": {"kind": "wrong_shape", "shape": "number"},
    "missing-fields": {"kind": "wrong_shape", "shape": "missing"},
    "html-200": {"kind": "wrong_shape", "shape": "html"},
    "huge": {"kind": "huge", "size": 9 * 1024 * 1024},
    "huge-with-length": {"kind": "huge", "size": 9 * 1024 * 1024, "content_length": True},
    "foreign-redirect": {"kind": "redirect"},
}
# Faults that slow or reshape an answer without making it wrong: always survived.
HARMLESS = {
    "slow": {"kind": "slow", "delay": 1.5},
    "drip": {"kind": "drip", "chunk": 8, "pause": 0.01},
    "numbers-as-strings": {"kind": "wrong_shape", "shape": "strings"},
    "same-origin-redirect": {"kind": "redirect_same"},
}


def fault(name: str, **extra) -> dict:
    spec = BREAKING.get(name) or HARMLESS[name]
    return {**spec, **extra}


# ---- status ----------------------------------------------------------------------------


def test_status_survives_each_transient_fault_and_tells_the_true_state(sim, env):
    """`status` retries a failed lookup twice: every fault that happens at most
    twice in a row ends in the job's true state, reported once, in argument order."""
    refs = []
    for i, name in enumerate([*BREAKING, *HARMLESS]):
        provider = ("pictory", "muvi", "json2video")[i % 3]
        outcome = "failed" if i % 4 == 3 else "done"
        times = 1 if name.startswith("huge") else 2
        job_id = sim.add_job(provider, queued=0, running=0, outcome=outcome,
                             faults=[fault(name, times=times)])
        refs.append((name, f"{provider}:{job_id}"))
    burst = sim.add_job("muvi", queued=0, running=600,
                        faults=[{"kind": "429", "times": 3, "seconds": 1}])
    refs.append(("429-burst", f"muvi:{burst}"))
    since = time.time()
    result = run_cli("status", "--json", *(r for _, r in refs), env=env)
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    jobs = ndjson(result.stdout)
    assert [f"{j['provider']}:{j['id']}" for j in jobs] == [r for _, r in refs]
    for (name, ref), job in zip(refs, jobs):
        assert job["state"] == truth(sim, ref), (name, job)
    # The faults really happened (and every 429 was waited out, not counted as a failure).
    log = sim.requests(since=since)
    assert sum(1 for r in log if r["status"] == 429) == 3
    assert sum(1 for r in log if r["status"] is None) >= 2  # the resets


def test_status_reports_permanent_faults_with_exit_6_one_line_each(sim, env):
    """A fault on every lookup: exit 6, one error line per broken job naming it, the
    broken jobs absent from stdout (nothing reported that was not read), the healthy
    one reported; the history keeps each job's state from before the faults."""
    broken = {}
    for i, name in enumerate(BREAKING):
        provider = ("pictory", "muvi", "json2video")[i % 3]
        # The first lookup answers (running); every later one meets the fault.
        job_id = sim.add_job(provider, queued=0, running=600,
                             faults=[fault(name, times=-1, after=1)])
        broken[f"{provider}:{job_id}"] = name
    limited = sim.add_job("pictory", queued=0, running=600,
                          faults=[{"kind": "429", "times": -1, "after": 1, "seconds": 120}])
    broken[f"pictory:{limited}"] = "429-for-two-minutes"
    healthy = f"muvi:{sim.add_job('muvi', queued=0, running=0)}"

    first = run_cli("status", "--json", *broken, healthy, env=env)
    assert first.returncode == 0, first.stderr
    assert {j["state"] for j in ndjson(first.stdout) if j["id"] not in healthy} == {"running"}

    result = run_cli("status", "--json", *broken, healthy, env=env)
    assert_clean(result)
    assert result.returncode == 6, result.stderr
    printed = last_by_ref(ndjson(result.stdout))
    assert list(printed) == [healthy] and printed[healthy]["state"] == "done"
    errors = error_lines(result.stderr)
    assert set(errors) == set(broken), result.stderr
    for ref, line in errors.items():
        assert len(line) < 400, line  # one readable line, not a page of HTML
        assert "<html" not in line.lower() and "<!doctype" not in line.lower(), line
    assert "another origin" in errors[next(r for r, n in broken.items() if n == "foreign-redirect")]
    assert "rate limited" in errors[f"pictory:{limited}"]

    # The history still holds what was last known: running (nothing else was read).
    stored = history_rows(env, "pictory")
    for ref in (r for r in broken if r.startswith("pictory:")):
        assert stored[ref]["state"] == "running", (broken[ref], stored[ref])


def test_status_reports_an_unknown_status_word_as_unknown_never_done(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=0,
                         faults=[{"kind": "unknown_status", "status": "rendered-v2", "times": -1}])
    result = run_cli("status", "--json", "--exit-status", f"pictory:{job_id}", env=env)
    assert_clean(result)
    assert result.returncode == 5, result.stderr  # not finished, as far as jobpoll can tell
    [job] = ndjson(result.stdout)
    assert (job["state"], job["status"]) == ("unknown", "rendered-v2")
    assert "unknown status 'rendered-v2'" in result.stderr


def test_latency_on_every_answer_is_only_slower(env):
    """The simulator's global latency (a private one: the setting is global)."""
    from jobpoll.simulator import Simulator

    with Simulator(seed=7) as slow:
        slow.configure(latency=0.4)
        for name in ("json2video", "pictory", "muvi", "reelbot"):
            env[f"JOBPOLL_{name.upper()}_BASE_URL"] = slow.base_url
        refs = [f"{p}:{slow.add_job(p, queued=0.2, running=1.0, outcome=o)}"
                for p, o in (("json2video", "done"), ("pictory", "failed"),
                             ("muvi", "cancelled"), ("reelbot", "done"))]
        status = run_cli("status", "--json", *refs, env=env)
        assert_clean(status)
        assert status.returncode == 0, status.stderr
        for job in ndjson(status.stdout):  # in progress, or (on a slow box) already ended truly
            ref = f"{job['provider']}:{job['id']}"
            assert job["state"] in ("queued", "running", truth(slow, ref)), job
        watched = run_cli("watch", "--json", *FAST, *refs, env=env)
        assert_clean(watched)
        assert watched.returncode == 1, watched.stderr  # failed and cancelled among them
        final = last_by_ref(ndjson(watched.stdout))
        assert {r: j["state"] for r, j in final.items()} == {r: truth(slow, r) for r in refs}


# ---- watch -------------------------------------------------------------------------------


def test_watch_survives_each_transient_fault_and_ends_in_the_true_state(sim, env):
    """Each job meets its fault on its first three lookups (--retries 5 tolerates
    it), or (slow, drip, odd shapes) on every lookup; every job
    ends in its true state, and no line ever says done for a job whose provider
    did not say so."""
    own_reelbot_key(env)
    outcomes = ("done", "failed", "done", "done")
    jobs: dict[str, str] = {}
    for i, name in enumerate([*BREAKING, *HARMLESS]):
        times = -1 if name in HARMLESS else 1 if name.startswith("huge") else 3
        spec = fault(name, times=times, **({"delay": 0.5} if name == "slow" else {}))
        job_id = sim.add_job("pictory", queued=0.3, running=1.5, outcome=outcomes[i % 4],
                             faults=[spec])
        jobs[f"pictory:{job_id}"] = name
    extra = [
        ("pictory", {"kind": "unknown_status", "times": 3}, "unknown-status"),
        ("pictory", {"kind": "429", "times": 2, "seconds": 1}, "429-burst"),
    ]
    # One job of each other provider: looked up alone, so its own faults apply.
    # Lookups 0, 2, 4, 6 and 8 fail, each in its own way, the others answer.
    mixed = [fault(name, times=1, after=2 * i)
             for i, name in enumerate(("500-html", "truncated", "missing-fields", "reset", "array"))]
    extra += [("json2video", mixed, "mixed"), ("muvi", mixed, "mixed"), ("reelbot", mixed, "mixed")]
    for provider, spec, name in extra:
        faults = spec if isinstance(spec, list) else [spec]
        job_id = sim.add_job(provider, queued=0.3, running=1.5, faults=[dict(f) for f in faults])
        jobs[f"{provider}:{job_id}"] = name

    since = time.time()
    result = run_cli("watch", "--json", *FAST, *jobs, env=env)
    assert_clean(result, TEST_KEY, env["JOBPOLL_REELBOT_API_KEY"])
    assert result.returncode == 1, result.stderr  # some jobs failed, as their providers said
    lines = ndjson(result.stdout)
    final = last_by_ref(lines)
    assert set(final) == set(jobs)
    for ref, name in jobs.items():
        assert final[ref]["state"] == truth(sim, ref), (name, final[ref])
    for line in lines:  # never done before the provider said done, never a wrong ending
        ref = f"{line['provider']}:{line['id']}"
        if line["state"] in ("done", "failed", "cancelled"):
            assert line is final[ref] and line["state"] == truth(sim, ref), (jobs[ref], line)
    unknown = next(r for r, n in jobs.items() if n == "unknown-status")
    assert any(l["state"] == "unknown" for l in lines if f"pictory:{l['id']}" == unknown)
    assert "unknown status 'rendering-v2'" in result.stderr
    assert not error_lines(result.stderr).keys() - {r for r in jobs if truth(sim, r) == "failed"}
    log = sim.requests(since=since)
    assert sum(1 for r in log if r["status"] == 429) >= 2
    assert not [r for r in sim.requests(origin="foreign", since=since)
                if TEST_KEY in json.dumps(r["headers"])]


def test_watch_abandons_permanently_broken_jobs_with_exit_6_and_keeps_their_last_state(sim, env):
    """After one good answer (running) every lookup fails: with --retries 2 each job
    is abandoned after three failures with one error line; its last line on stdout
    and its history row say running, never done. A healthy job still finishes."""
    broken = {}
    for name in BREAKING:
        job_id = sim.add_job("pictory", queued=0, running=600,
                             faults=[fault(name, times=-1, after=1)])
        broken[f"pictory:{job_id}"] = name
    healthy = f"pictory:{sim.add_job('pictory', queued=0.2, running=0.8)}"
    since = time.time()
    result = run_cli("watch", "--json", *FAST, "--retries", "2", *broken, healthy, env=env)
    assert_clean(result)
    assert result.returncode == 6, result.stderr
    final = last_by_ref(ndjson(result.stdout))
    assert final[healthy]["state"] == "done"
    for ref, name in broken.items():
        assert final[ref]["state"] == "running", (name, final[ref])  # last known, not made up
    errors = error_lines(result.stderr)
    assert set(errors) == set(broken), result.stderr
    for ref, line in errors.items():
        assert "gave up after 3 lookups in a row failed" in line, (broken[ref], line)
        assert "<html" not in line.lower(), line
    # --retries 2: one good lookup, then the first try and two retries. (A reset on a
    # kept-alive connection may be retried once by the transport, below jobpoll.)
    for ref, name in broken.items():
        hits = sim.requests(path=f"/pictoryapis/v1/jobs/{ref.split(':', 1)[1]}", since=since)
        assert 4 <= len(hits) <= (7 if name == "reset" else 4), (name, len(hits))
    stored = history_rows(env, "pictory")
    for ref, name in broken.items():
        assert stored[ref]["state"] == "running", (name, stored[ref])
    assert stored[healthy]["state"] == "done"


def test_at_a_terminal_an_abandoned_job_is_shown_in_its_last_known_state(sim, env):
    """The summary table at the end lists a job given up on with the state it was
    last seen in (running), not nothing and not an ending it never had."""
    import os
    import pty
    import re
    import subprocess
    import sys

    ref = f"pictory:{sim.add_job('pictory', queued=0, running=600, faults=[fault('503-html', times=-1, after=1)])}"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jobpoll", "watch", *FAST, "--retries", "1", ref],
                            env={**env, "TERM": "xterm", "COLUMNS": "200"}, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait(timeout=60) == 6
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert "STATE" in text, text[-1500:]  # the summary table (the live display has no header)
    table = text.rsplit("STATE", 1)[1]
    row = next(line for line in table.splitlines() if ref in line)
    assert " running " in row and "done" not in row and "failed" not in row, row


def test_watch_of_a_job_whose_status_word_stays_unknown_never_says_done(sim, env):
    job_id = sim.add_job("pictory", queued=0, running=0, outcome="done",
                         faults=[{"kind": "unknown_status", "times": -1}])
    ref = f"pictory:{job_id}"
    proc = start_cli("watch", "--json", *FAST, ref, env=env)
    try:  # four lookups that all say the unknown word, then Ctrl-C: it never finishes
        wait_until(lambda: len(sim.requests(path=f"/pictoryapis/v1/jobs/{job_id}")) >= 4
                   or proc.poll() is not None)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err and TEST_KEY not in err
    assert proc.returncode == 130, err  # still unfinished when interrupted
    states = [l["state"] for l in ndjson(out)]
    assert states and "done" not in states and states[-1] == "unknown"  # done at the provider
    assert err.count("unknown status 'rendering-v2'") == 1  # warned once
    assert history_rows(env, "pictory")[ref]["state"] == "unknown"


def test_watch_waits_out_a_long_429_burst_without_giving_up(sim, env):
    """429s are not failures: three in a row with --retries 0 still end done."""
    job_id = sim.add_job("pictory", queued=0, running=1.0,
                         faults=[{"kind": "429", "times": 3, "seconds": 1}])
    ref = f"pictory:{job_id}"
    result = run_cli("watch", "--json", *FAST, "--retries", "0", ref, env=env)
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    assert last_by_ref(ndjson(result.stdout))[ref]["state"] == "done"
    assert "rate limited" in result.stderr
