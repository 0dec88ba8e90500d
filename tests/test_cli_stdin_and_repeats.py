"""Job references from stdin and repeated on the command line: what scripts rely on."""

from __future__ import annotations

import json
import time

from conftest import assert_clean, run_cli


def test_list_of_nothing_piped_into_watch_dash_is_nothing_to_watch(sim, env):
    # The README's recipe when nothing is running: `list --state running --json | watch -`
    listed = run_cli("list", "-p", "reelbot", "--state", "running", "--json", env=env)
    assert listed.returncode == 0 and listed.stdout == ""
    result = run_cli("watch", "-", env=env, input=listed.stdout)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["jobpoll: no job references on stdin: nothing to watch"]
    assert run_cli("-q", "watch", "-", env=env, input="").stderr == ""


def test_status_dash_with_empty_stdin_is_nothing_to_look_up(env):
    result = run_cli("status", "--json", "-", env=env, input="\n\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["jobpoll: no job references on stdin: nothing to look up"]


def test_no_job_and_no_dash_is_still_a_usage_error(env):
    # `watch $ID` with ID unset must not pass for a finished job.
    result = run_cli("watch", env=env, input="")
    assert result.returncode == 2
    assert "no job given" in result.stderr
    assert_clean(result)


def test_status_prints_a_line_per_argument_even_when_repeated(sim, env):
    a = f"muvi:{sim.add_job('muvi', queued=0, running=0)}"
    b = f"reelbot:{sim.add_job('reelbot', queued=0, running=600)}"
    since = time.time()
    result = run_cli("status", "--json", a, b, a, a, env=env)
    assert result.returncode == 0, result.stderr
    refs = [f"{j['provider']}:{j['id']}" for j in map(json.loads, result.stdout.splitlines())]
    assert refs == [a, b, a, a]
    # each job looked up once
    assert len(sim.requests(path=f"/v1/jobs/{a.split(':')[1]}", since=since)) == 1
    plain = run_cli("status", a, a, env=env)
    assert [line.split("\t")[0] for line in plain.stdout.splitlines()] == [a, a]
    field = run_cli("status", "--field", "state", b, a, b, env=env)
    assert field.stdout.splitlines() == ["running", "done", "running"]


def test_a_repeated_job_that_fails_is_said_once_on_stderr(sim, env):
    missing = "muvi:job_nosuchjob000"
    result = run_cli("status", missing, missing, env=env)
    assert result.returncode == 4
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
