"""Option mistakes a new user makes, answered in one line that says what to do:
global options after the command, output options that cannot go together,
the list of valid field names."""

from __future__ import annotations

import pytest

from conftest import assert_clean, run_cli


@pytest.mark.parametrize("args,option", [
    (["status", "-q", "muvi:job_1"], "-q"),
    (["status", "--quiet", "muvi:job_1"], "--quiet"),
    (["watch", "muvi:job_1", "-v"], "-v"),
    (["list", "--no-color"], "--no-color"),
    (["status", "--config", "/tmp/c.toml", "muvi:job_1"], "--config"),
    (["config", "show", "--verbose"], "--verbose"),
])
def test_a_global_option_after_the_command_says_it_goes_before(env, args, option):
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert_clean(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "No such option" not in lines[0]
    assert f"{option} is a global option: it goes before the command" in lines[0]
    assert f"'jobpoll {option}" in lines[0]
    assert result.stdout == ""


def test_a_global_option_before_the_command_still_works(sim, env):
    job = sim.add_job("muvi", outcome="done", queued=0, running=0)
    result = run_cli("-q", "--no-color", "status", f"muvi:{job}", env=env)
    assert result.returncode == 0, result.stderr
    assert f"muvi:{job}\tdone" in result.stdout


@pytest.mark.parametrize("args", [
    ["status", "--json", "--field", "url"],
    ["status", "--raw", "--field", "url"],
    ["watch", "--json", "--field", "url"],
    ["list", "--json", "--field", "url"],
])
def test_output_options_that_conflict_are_refused(sim, env, args):
    job = sim.add_job("muvi", outcome="done", queued=0, running=0)
    extra = [] if args[0] == "list" else [f"muvi:{job}"]
    result = run_cli(*args, *extra, env=env)
    assert result.returncode == 2
    assert result.stdout == ""  # nothing printed under one of them silently
    assert "cannot be used together" in result.stderr
    assert args[1] in result.stderr and "--field" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert_clean(result)


def test_raw_with_json_is_not_a_conflict(sim, env):
    job = sim.add_job("muvi", outcome="done", queued=0, running=0)
    result = run_cli("status", "--raw", "--json", f"muvi:{job}", env=env)
    assert result.returncode == 0, result.stderr
    assert '"raw":' in result.stdout


def test_an_unknown_field_lists_each_valid_name_once(env):
    result = run_cli("list", "--field", "bogus", env=env)
    assert result.returncode == 2
    names = result.stderr.split("(fields: ", 1)[1].rstrip(")\n").split(", ")
    assert len(names) == len(set(names)), names
    assert "ref" in names and "source" in names and "url" in names
